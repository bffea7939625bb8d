"""The real app under Xvfb, driven with xdotool like a user: a screenshot of the
window mid-conversation is saved as a test artifact, and must not be blank."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT, stored_answers

TOOLS = ("Xvfb", "xdotool", "import")
pytestmark = pytest.mark.skipif(
    any(shutil.which(t) is None for t in TOOLS),
    reason="needs Xvfb, xdotool and imagemagick (`make test` installs them)",
)


def _artifacts() -> Path:
    d = Path(os.environ.get("ASSISTANT_TEST_ARTIFACTS", ROOT / "test-artifacts"))
    d.mkdir(parents=True, exist_ok=True)
    return d


def _wait(predicate, timeout: float, what: str) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_window_screenshot_mid_conversation(xvfb, assistant_home):
    from PIL import Image, ImageStat

    config = assistant_home / "config"
    config.mkdir(parents=True)
    (config / "settings.json").write_text(json.dumps({"generation": {"max_tokens": 60}}))
    env = {**os.environ, "DISPLAY": xvfb, "QT_QPA_PLATFORM": "xcb"}
    app = subprocess.Popen(
        [sys.executable, "-m", "assistant"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        xdo = lambda *a: subprocess.run(["xdotool", *a], env=env, capture_output=True, text=True)  # noqa: E731
        try:
            _wait(lambda: xdo("search", "--name", "^Assistant$").stdout.strip(), 30, "the window")
        except AssertionError:
            app.terminate()
            raise AssertionError(f"no window; app said: {app.communicate()[1][-3000:]}") from None
        wid = xdo("search", "--name", "^Assistant$").stdout.split()[0]
        xdo("windowfocus", "--sync", wid)
        time.sleep(1.0)
        xdo("type", "--delay", "15", "Write a Python function that adds two numbers.")
        xdo("key", "Return")
        db = assistant_home / "data" / "history.sqlite3"
        _wait(lambda: any(s == "complete" for s, _ in stored_answers(db)), 90, "the answer")
        time.sleep(0.5)
        shot = _artifacts() / "window-mid-conversation.png"
        subprocess.run(["import", "-window", "root", str(shot)], env=env, check=True)
    finally:
        app.terminate()
        try:
            app.wait(20)
        except subprocess.TimeoutExpired:
            app.kill()
    assert app.returncode == 0 or app.returncode == -15, app.stderr.read()[-2000:]
    img = Image.open(shot).convert("L")
    stat = ImageStat.Stat(img)
    assert stat.stddev[0] > 20, "screenshot looks blank"
    dark = sum(img.histogram()[:80])
    assert dark > 2000, "no text visible in the screenshot"
    ((status, answer),) = stored_answers(db)
    assert status == "complete" and answer.strip()
