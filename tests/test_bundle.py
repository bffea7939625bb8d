"""Smoke test of the frozen one-folder bundle (`make package` -> dist/assistant/):
the binary alone, offline, with a fresh data folder. `pytest -m bundle` runs only
this; `make test` runs it when the bundle exists."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT, stored_answers
from tests.voice_helpers import speak, wer

BUNDLE = Path(os.environ.get("ASSISTANT_BUNDLE", ROOT / "dist" / "assistant"))
EXE = BUNDLE / "assistant"

pytestmark = [
    pytest.mark.bundle,
    pytest.mark.timeout(600),
    pytest.mark.skipif(not EXE.exists(), reason="no bundle: `make package` builds it"),
]


def run(*args: str, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    # From another folder, with no checkout on the path: only what the bundle holds.
    clean = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return subprocess.run(
        [str(EXE), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd="/",
        env={**clean, **(env or {})},
    )


def test_version_and_an_offline_answer_with_the_starter_model(assistant_home):
    r = run("--version")
    assert r.returncode == 0 and r.stdout.strip().startswith("assistant "), r.stderr
    r = run("ask", "What is the capital of France?", "--json")
    assert r.returncode == 0, r.stderr[-3000:]
    out = json.loads(r.stdout)
    assert "Paris" in out["answer"] and out["model"] == "SmolLM2-135M-Instruct.Q4_1"


def test_memory_recall_and_speech_work_frozen(assistant_home, tmp_path):
    # Both load torch / CTranslate2 and their data files: what freezing most often breaks.
    r = run("memory", "add", "My sister lives in Lyon.")
    assert r.returncode == 0, r.stderr[-3000:]
    r = run("ask", "Where does my sister live?", "--json")
    assert r.returncode == 0 and "Answering without memory" not in r.stderr, r.stderr[-3000:]
    recalled = [i["text"] for i in json.loads(r.stdout)["recalled"]]
    assert any("Lyon" in t for t in recalled), recalled
    text = "Please remind me to call my sister tomorrow morning."
    wav = speak(text, tmp_path / "say.wav")
    r = run("transcribe", str(wav))
    assert r.returncode == 0, r.stderr[-3000:]
    assert wer(text, r.stdout) <= 0.2, r.stdout


@pytest.mark.skipif(shutil.which("import") is None, reason="needs imagemagick")
def test_the_window_starts_under_xvfb(xvfb, assistant_home):
    from PIL import Image, ImageStat

    env = {"DISPLAY": xvfb, "QT_QPA_PLATFORM": "xcb"}
    clean = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    app = subprocess.Popen(
        [str(EXE), "gui"],
        cwd="/",
        env={**clean, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    full = {**os.environ, **env}
    try:
        end = time.monotonic() + 60
        found = ""
        while time.monotonic() < end and not found:
            found = subprocess.run(
                ["xdotool", "search", "--name", "^Assistant$"],
                env=full,
                capture_output=True,
                text=True,
            ).stdout.strip()
            time.sleep(0.3)
        assert found, "no window appeared"
        xdo = ["xdotool"]
        subprocess.run([*xdo, "windowfocus", "--sync", found.split()[0]], env=full)
        time.sleep(1.0)
        subprocess.run([*xdo, "type", "--delay", "15", "What is the capital of France?"], env=full)
        subprocess.run([*xdo, "key", "Return"], env=full)
        db = assistant_home / "data" / "history.sqlite3"
        end = time.monotonic() + 90
        done = lambda: [a for status, a in stored_answers(db) if status == "complete"]  # noqa: E731
        while time.monotonic() < end and not done():
            time.sleep(0.3)
        answers = done()
        assert answers and "Paris" in answers[0], answers
        time.sleep(0.5)
        shot = Path(os.environ.get("ASSISTANT_TEST_ARTIFACTS", ROOT / "test-artifacts"))
        shot.mkdir(parents=True, exist_ok=True)
        shot = shot / "bundle-window.png"
        subprocess.run(["import", "-window", "root", str(shot)], env=full, check=True)
    finally:
        app.terminate()
        try:
            app.wait(30)
        except subprocess.TimeoutExpired:
            app.kill()
    assert app.returncode == 0, app.stderr.read()[-3000:]
    img = Image.open(shot).convert("L")
    assert ImageStat.Stat(img).stddev[0] > 20, "screenshot looks blank"
