"""Importing a local GGUF (checked by llama.cpp first, copied atomically) and
removing it again."""

from __future__ import annotations

import json

from tests.conftest import run_cli
from tests.gguf_factory import write_tiny_gguf


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
