"""One app per data folder: later starts, `assistant quick` and `assistant ptt`
reach the running one over its local socket; a killed one's socket does not
block the next start. Real processes, real socket, the real model."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, run_cli
from tests.helpers.app_process import answer_to, wait

pytestmark = pytest.mark.timeout(300)


@pytest.fixture
def desktop_env(assistant_home, tmp_path, monkeypatch):
    run = tmp_path / "run"
    run.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(run))
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    config = assistant_home / "config"
    config.mkdir(parents=True)
    (config / "settings.json").write_text(json.dumps({"generation": {"max_tokens": 16}}))
    return {**os.environ}


def start(env, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "assistant", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def socket_path() -> Path:
    from assistant.core.base.paths import get_paths

    return get_paths().instance_socket


def ping() -> dict | None:
    from assistant.ui.shell.single_instance import send

    return send(socket_path(), {"cmd": "ping"}, 500)


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.kill()
        proc.wait(10)


def test_second_start_and_quick_reach_the_running_app(desktop_env, assistant_home):
    first = start(desktop_env, "gui")
    try:
        wait(ping, 60, "the first instance", first)
        assert socket_path().stat().st_mode & 0o077 == 0, "only the owner may connect"

        second = run_cli(env=desktop_env, timeout=60)  # plain `assistant`: show the window
        assert second.returncode == 0, second.stderr
        assert "already running" in second.stderr

        question = "What is the capital of France?"
        quick = run_cli("quick", question, env=desktop_env, timeout=60)
        assert quick.returncode == 0, quick.stderr
        answer = wait(lambda: answer_to(question, assistant_home), 120, "the answer", first)
        assert "Paris" in answer

        # A malformed request is refused; the instance stays up.
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(str(socket_path()))
            s.sendall(b"this is not json\n")
            reply = json.loads(s.makefile().readline())
        assert reply["ok"] is False and "bad request" in reply["error"]
        assert ping() is not None

        # SIGTERM quits cleanly: exit code 0 and the socket is gone.
        first.send_signal(signal.SIGTERM)
        assert first.wait(30) == 0, first.stderr.read()[-2000:]
        assert not socket_path().exists()
    finally:
        stop(first)


def test_a_killed_instance_does_not_block_the_next_start(desktop_env, assistant_home):
    first = start(desktop_env, "gui")
    try:
        wait(ping, 60, "the first instance", first)
    finally:
        first.kill()
        first.wait(10)
    assert socket_path().exists(), "SIGKILL leaves the socket file behind"
    assert ping() is None

    # `assistant quick` with nothing running starts the app itself.
    question = "Name a color."
    second = start(desktop_env, "quick", question)
    try:
        answer = wait(lambda: answer_to(question, assistant_home), 120, "the answer", second)
        assert answer.strip()
        again = run_cli("ptt", env=desktop_env, timeout=60)
        assert again.returncode == 0 and "already running" in again.stderr, again.stderr
        assert second.poll() is None
    finally:
        stop(second)
