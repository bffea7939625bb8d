"""The desktop under a real X server (Xvfb) with a real tray host (trayer):
the tray icon appears and its menu works, the global hotkeys open the quick
prompt and hold-to-talk asks what was said, and a hotkey another program holds
is reported. Driven with xdotool, as a user would."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import time

import pytest

from tests.conftest import ROOT
from tests.helpers.app_process import answer_to, wait
from tests.helpers.voice import play, speak, wer

TOOLS = ("Xvfb", "xdotool", "trayer")
pytestmark = [
    pytest.mark.timeout(300),
    pytest.mark.skipif(
        any(shutil.which(t) is None for t in TOOLS),
        reason="needs Xvfb, xdotool and trayer (`make test` installs them)",
    ),
]


@pytest.fixture
def tray_host(xvfb):
    env = {**os.environ, "DISPLAY": xvfb}
    proc = subprocess.Popen(
        ["trayer", "--edge", "top", "--align", "right", "--widthtype", "request", "--height", "24"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    xdo = lambda *a: subprocess.run(["xdotool", *a], env=env, capture_output=True, text=True)  # noqa: E731
    wait(lambda: xdo("search", "--class", "trayer").stdout.strip(), 10, "trayer")
    yield xvfb
    proc.terminate()
    proc.wait(10)


def visible(env, name: str) -> bool:
    out = subprocess.run(
        ["xdotool", "search", "--onlyvisible", "--name", name], env=env, capture_output=True
    )
    return bool(out.stdout.strip())


def test_tray_menu_and_global_hotkeys(tray_host, sound_server, assistant_home, tmp_path):
    display = tray_host
    config = assistant_home / "config"
    config.mkdir(parents=True)
    (config / "settings.json").write_text(json.dumps({"generation": {"max_tokens": 16}}))
    run = tmp_path / "run"
    run.mkdir(mode=0o700)
    env = {
        **os.environ,
        "DISPLAY": display,
        "QT_QPA_PLATFORM": "xcb",
        "XDG_RUNTIME_DIR": str(run),
        "PULSE_SERVER": sound_server,
    }
    xdo = lambda *a: subprocess.run(["xdotool", *a], env=env, capture_output=True, text=True)  # noqa: E731
    log = assistant_home / "cache" / "logs" / "assistant.log"
    app = subprocess.Popen(
        [sys.executable, "-m", "assistant", "quick"],  # the tray and the quick prompt only
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        where = wait(
            lambda: (
                log.exists()
                and re.search(r"tray icon shown at (\d+),(\d+) (\d+)x(\d+)", log.read_text())
            ),
            60,
            "the tray icon",
            app,
        )
        x, y, w, h = map(int, where.groups())
        assert w > 0 and h > 0, "the tray host embedded the icon"
        check = subprocess.run(
            [
                sys.executable,
                "-c",
                "from PySide6.QtWidgets import QApplication, QSystemTrayIcon;"
                "a = QApplication([]); print(QSystemTrayIcon.isSystemTrayAvailable())",
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert check.stdout.strip() == "True", check.stderr
        wait(lambda: visible(env, "^Quick prompt$"), 30, "the quick prompt", app)
        assert not visible(env, "^Assistant$"), "`assistant quick` leaves the main window closed"

        # Esc hides it; a click on the tray icon brings it back.
        xdo("key", "Escape")
        wait(lambda: not visible(env, "^Quick prompt$"), 10, "Esc to hide the quick prompt")
        xdo("mousemove", str(x + w // 2), str(y + h // 2), "click", "1")
        wait(lambda: visible(env, "^Quick prompt$"), 10, "a tray click to show the quick prompt")
        xdo("key", "Escape")
        wait(lambda: not visible(env, "^Quick prompt$"), 10, "Esc again")

        # A double-click opens the window, and leaves no quick prompt behind it.
        xdo(
            "mousemove",
            str(x + w // 2),
            str(y + h // 2),
            "click",
            "--repeat",
            "2",
            "--delay",
            "60",
            "1",
        )
        wait(lambda: visible(env, "^Assistant$"), 10, "a tray double-click to open the window")
        time.sleep(1.5)  # past the double-click interval, when a click's prompt would open
        assert not visible(env, "^Quick prompt$"), "a double-click opens the window only"

        # The quick-prompt hotkey from anywhere; the answer lands in the history.
        wait(lambda: "global hotkey Ctrl+Alt+Space" in log.read_text(), 10, "the hotkeys")
        xdo("key", "ctrl+alt+space")
        wait(lambda: visible(env, "^Quick prompt$"), 10, "Ctrl+Alt+Space")
        xdo("type", "--delay", "10", "What is the capital of France?")
        xdo("key", "Return")
        answer = wait(
            lambda: answer_to("What is the capital of France?", assistant_home),
            90,
            "the answer",
            app,
        )
        assert "Paris" in answer
        xdo("key", "Escape")

        # Hold-to-talk: hold Ctrl+Alt+V, speak, let go: the transcript is asked.
        text = "Please tell me what the weather will be like in Paris tomorrow morning."
        wav = speak(text, tmp_path / "q.wav", "en-us", 150)
        wait(lambda: "speech model" in log.read_text(), 60, "the speech model to preload", app)
        xdo("keydown", "ctrl+alt+v")
        time.sleep(0.5)
        play(wav, sound_server).wait(30)
        time.sleep(0.4)
        xdo("keyup", "v", "alt", "ctrl")

        def spoken_question():
            import sqlite3

            con = sqlite3.connect(assistant_home / "data" / "history.sqlite3")
            rows = con.execute(
                "SELECT q.content FROM messages q JOIN messages a ON a.parent_id = q.id "
                "WHERE q.role = 'user' AND a.status = 'complete' AND q.content LIKE '%weather%'"
            ).fetchall()
            con.close()
            return rows[0][0] if rows else None

        heard = wait(spoken_question, 90, "the spoken question to be answered", app)
        assert wer(text, heard) <= 0.2, heard

        # The tray menu: Open shows the window; Quit (the last item) ends the app.
        xdo("mousemove", str(x + w // 2), str(y + h // 2), "click", "3")
        time.sleep(0.7)
        xdo("key", "Down", "Return")
        wait(lambda: visible(env, "^Assistant$"), 10, "Open from the tray menu")
        xdo("mousemove", str(x + w // 2), str(y + h // 2), "click", "3")
        time.sleep(0.7)
        xdo("key", "Up", "Return")
        assert app.wait(30) == 0, app.stderr.read()[-2000:]
    finally:
        if app.poll() is None:
            app.kill()
            app.wait(10)


GRABBER = textwrap.dedent(
    """
    import sys, time
    from Xlib import X, XK, display
    d = display.Display()
    code = d.keysym_to_keycode(XK.string_to_keysym("v"))
    d.screen().root.grab_key(code, X.ControlMask | X.Mod1Mask, True, X.GrabModeAsync, X.GrabModeAsync)
    d.sync()
    print("grabbed", flush=True)
    time.sleep(120)
    """
)


def test_a_hotkey_taken_by_another_program_is_reported(xvfb, monkeypatch):
    from assistant.core.config.hotkey_spec import parse_hotkey
    from assistant.ui.shell.global_hotkeys import _X11Keys

    monkeypatch.setenv("DISPLAY", xvfb)
    other = subprocess.Popen([sys.executable, "-c", GRABBER], stdout=subprocess.PIPE, text=True)
    keys = None
    try:
        assert other.stdout.readline().strip() == "grabbed"
        events: list[tuple[str, str]] = []
        keys = _X11Keys(
            {
                "quick_prompt": parse_hotkey("Ctrl+Alt+Space"),
                "push_to_talk": parse_hotkey("Ctrl+Alt+V"),
            },
            lambda n: events.append(("down", n)),
            lambda n: events.append(("up", n)),
        )
        assert keys.active == ["quick_prompt"]
        (problem,) = keys.problems
        assert problem.startswith("Ctrl+Alt+V is already used by another program")
        assert "desktop.push_to_talk_hotkey" in problem
        env = {**os.environ, "DISPLAY": xvfb}
        subprocess.run(["xdotool", "keydown", "ctrl+alt+space"], env=env, check=True)
        time.sleep(0.6)
        subprocess.run(["xdotool", "keyup", "space", "alt", "ctrl"], env=env, check=True)
        wait(lambda: ("up", "quick_prompt") in events, 5, "the release")
        assert events == [("down", "quick_prompt"), ("up", "quick_prompt")]
    finally:
        if keys is not None:
            keys.close()
        other.kill()
        other.wait(10)
