"""The command line, run as a user runs it: a subprocess, its output, its exit code."""

from __future__ import annotations

import json

from tests.conftest import run_cli


def _clean_error(r) -> str:
    assert r.returncode != 0
    assert "Traceback" not in r.stderr, r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1, r.stderr
    return lines[0]


def test_version():
    r = run_cli("--version")
    assert r.returncode == 0 and r.stdout.startswith("assistant ")


def test_ask_json_answers_with_stats():
    r = run_cli("ask", "What is the capital of France?", "--json")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert "Paris" in data["answer"]
    stats = data["stats"]
    for key in ("prompt_tokens", "generated_tokens", "ttft_s", "tokens_per_s"):
        assert stats[key] > 0, key
    assert data["finish_reason"] in ("stop", "length")
    # It was saved, and the CLI's history commands see it.
    listed = json.loads(run_cli("history", "list", "--json").stdout)
    assert listed[0]["id"] == data["conversation_id"]
    assert listed[0]["title"] == "What is the capital of France?"
    found = run_cli("history", "search", "capital").stdout
    assert "capital" in found
    shown = run_cli("history", "show", str(data["conversation_id"])).stdout
    assert "## You" in shown and data["answer"].strip()[:20] in shown


def test_empty_question_and_chat_save_nothing():
    assert "Nothing to ask" in _clean_error(run_cli("ask", "   "))
    assert run_cli("chat", input="/new\n/quit\n").returncode == 0
    assert json.loads(run_cli("history", "list", "--json").stdout) == []


def test_ask_streams_plain_text():
    r = run_cli("ask", "Say hello.", "--no-save")
    assert r.returncode == 0 and r.stdout.strip()
    assert json.loads(run_cli("history", "list", "--json").stdout) == []


def test_bad_model_paths_are_one_line_errors(tmp_path):
    empty = tmp_path / "empty.gguf"
    empty.touch()
    page = tmp_path / "page.gguf"
    page.write_text("<html>Not Found</html>")
    for path, says in [
        (tmp_path / "missing.gguf", "not found"),
        (empty, "empty"),
        (page, "web page"),
    ]:
        r = run_cli("ask", "hi", "--model", str(path))
        assert says in _clean_error(r)
        assert r.returncode == 1


def test_chat_in_terminal_is_saved():
    script = "/regen\n/new\n/open 999\nHello there\n/regen\nWhat is 2+2?\n/quit\n"
    r = run_cli("chat", input=script)
    assert r.returncode == 0, r.stderr
    assert "Nothing to regenerate yet" in r.stderr  # and the chat went on
    assert "No conversation with id 999" in r.stderr
    assert r.stdout.count("tok/s") == 3
    (conv,) = json.loads(run_cli("history", "list", "--json").stdout)
    exported = json.loads(run_cli("history", "export", "--id", str(conv["id"])).stdout)
    msgs = exported["conversations"][0]["messages"]
    assert [m["role"] for m in msgs] == ["user", "assistant", "assistant", "user", "assistant"]
    assert all(m["status"] == "complete" for m in msgs)


def test_history_export_import_round_trip(tmp_path, assistant_home):
    run_cli("ask", "Remember the word zebra.")
    out = tmp_path / "all.json"
    assert run_cli("history", "export", "-o", str(out)).returncode == 0
    other = {"ASSISTANT_HOME": str(tmp_path / "other-home")}
    r = run_cli("history", "import", str(out), env=other)
    assert r.returncode == 0 and "Imported 1 conversation(s), 2 message(s)" in r.stdout
    assert "zebra" in run_cli("history", "search", "zebra", env=other).stdout
    bad = tmp_path / "bad.json"
    bad.write_text("{nope")
    assert "not a readable JSON" in _clean_error(run_cli("history", "import", str(bad)))
    md = run_cli("history", "export", "--format", "md").stdout
    assert md.startswith("# Remember the word zebra.")


def test_settings_cli_and_bad_settings_file(assistant_home):
    assert run_cli("settings", "set", "generation.temperature", "0.3").returncode == 0
    shown = json.loads(run_cli("settings", "show").stdout)
    assert shown["generation"]["temperature"] == 0.3
    assert "generation.temperature" in _clean_error(
        run_cli("settings", "set", "generation.temperature", "9")
    )
    settings_file = assistant_home / "config" / "settings.json"
    settings_file.write_text('{"model": {"n_ctx": "lots"}}')
    err = _clean_error(run_cli("ask", "hi"))
    assert "model.n_ctx" in err and "settings reset" in err
    assert run_cli("settings", "reset").returncode == 0
    assert json.loads(run_cli("settings", "show").stdout)["model"]["n_ctx"] == 4096


def test_doctor_reports_ok():
    r = run_cli("doctor", "--json")
    assert r.returncode == 0, r.stdout
    checks = {c["what"]: c["status"] for c in json.loads(r.stdout)}
    assert checks["starter chat model"] == "ok"
    assert checks["llama-cpp-python"] == "ok"
    assert checks["SQLite FTS5"] == "ok"
    assert checks["chat model"] == "ok" and checks["history"] == "ok"


def test_doctor_does_not_call_the_index_damaged_for_what_it_has_not_added_yet(tmp_path):
    """A question asked with `assistant ask` is embedded into SQLite's vector cache; the
    index adds it at its owner's next search. Until then it is pending, not lost."""
    run_cli("memory", "add", "My dog is called Biscuit")
    run_cli("memory", "search", "what is my dog called")  # builds the index
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "kettle.md").write_text("# Kettle\n\nDescale it every month.\n")
    run_cli("docs", "add", str(tmp_path / "docs"))
    r = run_cli("ask", "--docs", "How often should I descale the kettle?")
    assert r.returncode == 0, r.stderr
    r = run_cli("doctor", "--json")
    checks = {c["what"]: c for c in json.loads(r.stdout)}
    assert checks["memory index"]["status"] == "ok", checks["memory index"]["detail"]


def test_doctor_fails_when_the_configured_model_is_missing(tmp_path):
    run_cli("settings", "set", "model.path", str(tmp_path / "gone.gguf"))
    r = run_cli("doctor", "--json")
    assert r.returncode == 1
    checks = {c["what"]: c for c in json.loads(r.stdout)}
    assert checks["chat model"]["status"] == "fail"
    assert "not found" in checks["chat model"]["detail"]


def test_doctor_checks_the_speech_model_folder(tmp_path):
    r = run_cli("doctor", "--json")
    checks = {c["what"]: c for c in json.loads(r.stdout)}
    assert (
        checks["speech model"]["status"] == "ok" and "tiny.en" in checks["speech model"]["detail"]
    )
    (tmp_path / "notwhisper").mkdir()
    run_cli("settings", "set", "voice.model", str(tmp_path / "notwhisper"))
    r = run_cli("doctor", "--json")
    assert r.returncode == 1
    checks = {c["what"]: c for c in json.loads(r.stdout)}
    assert checks["speech model"]["status"] == "fail"
    assert "not a CTranslate2 Whisper model" in checks["speech model"]["detail"]


def test_settings_nested_thousands_deep_is_one_line(assistant_home):
    f = assistant_home / "config" / "settings.json"
    f.parent.mkdir(parents=True)
    for garbage in (b"[" * 100_000 + b"]" * 100_000, b'{"a":' * 50_000 + b"1" + b"}" * 50_000):
        f.write_bytes(garbage)
        for args in (("settings", "show"), ("ask", "hi")):
            line = _clean_error(run_cli(*args))
            assert "nested too deeply" in line and "settings reset" in line
        assert f.read_bytes() == garbage  # left as it was


def test_an_unexpected_error_is_one_line_and_its_traceback_goes_to_the_log(
    assistant_home, capsys, monkeypatch
):
    from assistant.cli import history_cmd
    from assistant.cli.main import main

    def broken(_args):
        raise RuntimeError("something inside broke\nwith a second line")

    import logging
    import os
    import threading

    monkeypatch.setattr(history_cmd, "cmd_list", broken)
    environ, handlers, hook = (
        dict(os.environ),
        list(logging.getLogger().handlers),
        threading.excepthook,
    )
    umask = os.umask(0o022)
    os.umask(umask)
    try:
        assert main(["history", "list"]) == 2
    finally:  # main() set up this process as the app's: undo it for the tests that follow
        os.environ.clear()
        os.environ.update(environ)
        for h in logging.getLogger().handlers[len(handlers) :]:
            logging.getLogger().removeHandler(h)
            h.close()
        threading.excepthook = hook
        os.umask(umask)
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert "RuntimeError: something inside broke." in err and "assistant.log" in err
    log = (assistant_home / "cache" / "logs" / "assistant.log").read_text()
    assert "Traceback" in log and "something inside broke" in log
