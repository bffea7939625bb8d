"""Importing a local GGUF (checked by llama.cpp first, copied atomically) and
removing it again."""

from __future__ import annotations

import json

from tests.conftest import run_cli
from tests.helpers.gguf_factory import write_tiny_gguf


def test_import_use_list_and_remove(starter_gguf, assistant_home):
    r = run_cli("models", "import", str(starter_gguf), "--use")
    assert r.returncode == 0, r.stderr
    assert "llama, 135M, Q4_1, context 8192, chat template: yes" in r.stdout
    models = assistant_home / "data" / "models"
    copied = models / starter_gguf.name
    assert copied.read_bytes() == starter_gguf.read_bytes()
    assert not list(models.glob("*.part"))
    listed = json.loads(run_cli("models", "list", "--json").stdout)
    assert [m["path"] for m in listed if m["in_use"]] == [str(copied)]
    again = run_cli("models", "import", str(starter_gguf))
    assert again.returncode == 1 and "already in" in again.stderr

    r = run_cli("models", "remove", starter_gguf.name)
    assert r.returncode == 0, r.stderr
    assert not copied.exists() and "starter model is used" in r.stdout
    assert json.loads(run_cli("settings", "show").stdout)["model"]["path"] is None
    r = run_cli("models", "remove", "../config/settings.json")
    assert r.returncode == 1 and "No model called" in r.stderr


def test_an_unsupported_architecture_or_a_non_gguf_is_refused_and_not_copied(
    tmp_path, assistant_home
):
    odd = write_tiny_gguf(tmp_path / "odd.gguf", architecture="frobnicator")
    r = run_cli("models", "import", str(odd))
    assert r.returncode == 1
    assert "architecture 'frobnicator' is not supported by this llama.cpp build" in r.stderr
    (tmp_path / "notes.gguf").write_text("hello")
    r = run_cli("models", "import", str(tmp_path / "notes.gguf"))
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert not (assistant_home / "data" / "models").exists() or not any(
        (assistant_home / "data" / "models").iterdir()
    )


def test_a_models_own_settings_from_the_cli(starter_gguf, assistant_home):
    name = starter_gguf.name
    r = run_cli("models", "settings", name, "--context", "256", "--threads", "1")
    assert r.returncode == 0, r.stderr
    assert "context: 256  (this model)" in r.stdout
    assert "gpu layers: all (-1)  (model.n_gpu_layers)" in r.stdout
    saved = json.loads(run_cli("settings", "show").stdout)["model"]
    assert saved["per_model"] == {
        name: {"n_ctx": 256, "n_threads": 1, "n_gpu_layers": None, "chat_template": None}
    }
    assert saved["n_ctx"] == 4096  # the other models keep theirs
    # The starter model now loads with 256 tokens: a long question no longer fits.
    question = "Please summarise this: " + "the quick brown fox jumps over the lazy dog " * 40
    r = run_cli("ask", "--no-save", question)
    assert r.returncode == 1 and "context" in r.stderr.lower(), r.stderr
    assert "Traceback" not in r.stderr

    r = run_cli("models", "settings", name, "--gpu-layers", "lots")
    assert r.returncode == 1
    assert r.stderr.strip().startswith("error: Invalid --gpu-layers 'lots'")
    assert len(r.stderr.strip().splitlines()) == 1

    r = run_cli("models", "settings", name, "--chat-template", "llama3")
    assert r.returncode == 1 and "'llama3' is not a chat template" in r.stderr, r.stderr
    assert "llama3" not in run_cli("settings", "show").stdout  # nothing was saved

    r = run_cli("models", "settings", name, "--context", "default", "--json")
    rows = json.loads(r.stdout)["settings"]
    assert rows["n_ctx"] == {"value": 4096, "own": False}
    assert rows["n_threads"] == {"value": 1, "own": True}
    r = run_cli("ask", "--no-save", "--json", question)
    assert r.returncode == 0, r.stderr
    run_cli("models", "settings", name, "--reset")
    assert json.loads(run_cli("settings", "show").stdout)["model"]["per_model"] == {}


def test_a_linked_model_is_listed_used_and_unlinked_not_deleted(
    starter_gguf, assistant_home, tmp_path
):
    import shutil

    elsewhere = tmp_path / "elsewhere" / "mine.gguf"
    elsewhere.parent.mkdir()
    shutil.copyfile(starter_gguf, elsewhere)
    r = run_cli("models", "import", str(elsewhere), "--link")
    assert r.returncode == 0 and r.stdout.startswith("Linked mine.gguf"), r.stdout + r.stderr
    link = assistant_home / "data" / "models" / "mine.gguf"
    assert link.is_symlink() and link.resolve() == elsewhere.resolve()
    listed = json.loads(run_cli("models", "list", "--json").stdout)
    assert str(link) in [m["path"] for m in listed]
    r = run_cli("models", "import", str(elsewhere), "--link", "--use")  # already there: fine
    assert r.returncode == 0, r.stderr
    listed = json.loads(run_cli("models", "list", "--json").stdout)
    assert [m["path"] for m in listed if m["in_use"]] == [str(link)]
    r = run_cli("models", "remove", "mine.gguf")
    assert r.returncode == 0 and "the file it pointed to is kept" in r.stdout
    assert not link.exists() and not link.is_symlink() and elsewhere.exists()
