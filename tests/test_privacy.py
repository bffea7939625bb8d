"""Nothing leaves the machine: proved at the system-call level, not by a Python socket guard.

The app runs as a user would start it (default locations under an empty HOME) under
`strace`: every connect/sendto/sendmsg to a non-loopback address, and any DNS
query, fails the test (whether or not a network is there), and afterwards HOME
may hold nothing but the app's own folders (onnxruntime, loaded for the voice-activity
model, used to leave a device id under ~/.cache/Microsoft and look up its telemetry host).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import ROOT, free_port, stored_answers
from tests.helpers.voice import play, speak

pytestmark = pytest.mark.skipif(
    shutil.which("strace") is None, reason="needs strace (make sysdeps)"
)

APP_DIRS = {".local/share/assistant", ".config/assistant", ".cache/assistant"}
# What the desktop's own services keep in HOME, not the app: the sound server's client cookie.
SYSTEM_DIRS = {".config/pulse"}
LONG_TEXT = (
    "On the third of March we drove from Lyon to the coast with my sister Anna. "
    "The road was quiet, the sky was grey, and we stopped twice for coffee and bread. "
    "At noon we reached the harbour, where the fishing boats were painted blue and red. "
    "We walked along the pier for an hour, counted forty seven gulls, and talked about "
    "the garden, the new kettle, the broken gate and the price of tomatoes this summer. "
    "In the evening the wind turned cold, so we drove home slowly, listening to the radio."
)


def _strace(trace: Path) -> list[str]:
    seccomp = ["--seccomp-bpf"]
    probe = ["strace", "-f", "-qq", *seccomp, "-e", "trace=connect", "-o", "/dev/null", "true"]
    if subprocess.run(probe, capture_output=True).returncode != 0:
        seccomp = []
    calls = "trace=connect,sendto,sendmsg,sendmmsg"
    return ["strace", "-f", "-qq", *seccomp, "-e", calls, "-o", str(trace)]


_LOOPBACK = re.compile(r'inet_addr\("127\.|inet_pton\(AF_INET6, "(::1|::ffff:127\.)')


def outbound(trace: Path) -> list[str]:
    """Calls that reach for another machine: an IPv4/IPv6 peer that is not loopback,
    or anything sent to port 53 (a DNS lookup, wherever the resolver is)."""
    lines = trace.read_text(errors="replace").splitlines()
    inet = [x for x in lines if re.search(r"AF_INET6?\b", x) and not _LOOPBACK.search(x)]
    return [x for x in lines if "htons(53)" in x] + [x for x in inet if "htons(53)" not in x]


def stray_files(home: Path) -> list[str]:
    """Everything in HOME outside the app's folders (and the sound server's)."""
    out = []
    for p in home.rglob("*"):
        rel = p.relative_to(home).as_posix()
        if any(rel == d or rel.startswith(d + "/") for d in APP_DIRS | SYSTEM_DIRS):
            continue
        if p.is_dir() and any(d.startswith(rel + "/") for d in APP_DIRS | SYSTEM_DIRS):
            continue  # .local, .local/share, .config, .cache on the way to them
        out.append(rel)
    return sorted(out)


def _traced(cmd: list[str], trace: Path, env: dict[str, str], **kw) -> subprocess.Popen:
    # strace sees every attempt whether or not a network is there; `make test` also runs
    # the suite in a namespace with only loopback, so nothing could leave anyway.
    return subprocess.Popen([*_strace(trace), *cmd], env=env, cwd=ROOT, **kw)


def _stop(tracer: subprocess.Popen) -> None:
    """SIGTERM to the app itself (a signal to strace would only detach it), then wait."""
    children = Path(f"/proc/{tracer.pid}/task/{tracer.pid}/children")
    pids = children.read_text().split() if children.exists() else []
    for pid in pids:
        os.kill(int(pid), signal.SIGTERM)
    try:
        tracer.wait(60)
    except subprocess.TimeoutExpired:
        tracer.kill()
        raise


def _check(trace: Path) -> None:
    bad = outbound(trace)
    assert not bad, f"{len(bad)} network attempts, e.g. {bad[:3]}"


def _log_says(home: Path, text: str) -> bool:
    log = home / ".cache/assistant/logs/assistant.log"
    return log.exists() and text in log.read_text(errors="replace")


@pytest.mark.slow
def test_cli_serve_and_docs_reach_nothing_outside_and_write_nothing_else_in_home(
    user_env, tmp_path
):
    home = Path(user_env["HOME"])
    app = [sys.executable, "-m", "assistant"]
    # A minute of speech: onnxruntime's telemetry showed in processes alive over ~12 s.
    wav = speak(" ".join([LONG_TEXT] * 2), tmp_path / "long.wav")
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "kettle.md").write_text("# Kettle\n\nDescale the kettle every month.\n")
    (docs / "warranty.txt").write_text("The warranty lasts two years.\n")

    for name, args in (
        ("transcribe", ["transcribe", str(wav)]),
        ("memory", ["memory", "add", "My dog is called Biscuit"]),
        ("docs", ["docs", "add", str(docs)]),
        ("ask", ["ask", "--docs", "How often should I descale the kettle?"]),
    ):
        trace = tmp_path / f"trace.{name}"
        p = _traced([*app, *args], trace, user_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        out, err = p.communicate(timeout=600)
        assert p.returncode == 0, (name, err.decode()[-2000:])
        _check(trace)
        if name == "transcribe":
            assert b"harbour" in out.lower() or b"harbor" in out.lower(), out[:300]

    port = free_port()
    trace = tmp_path / "trace.serve"
    serve = _traced(
        [*app, "serve", "--port", str(port)],
        trace,
        user_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        banner = ""
        end = time.monotonic() + 120
        while "API key" not in banner and time.monotonic() < end and serve.poll() is None:
            banner += serve.stdout.readline()  # type: ignore[union-attr]
        key = re.search(r"sk-local-\S+", banner)
        assert key, banner
        auth = {"Authorization": f"Bearer {key.group(0)}", "Content-Type": "application/json"}
        base = f"http://127.0.0.1:{port}/v1"
        get = urllib.request.Request(f"{base}/models", headers=auth)
        model = json.loads(urllib.request.urlopen(get, timeout=60).read())["data"][0]["id"]
        body = {"model": model, "messages": [{"role": "user", "content": "Say hello."}]}
        post = urllib.request.Request(
            f"{base}/chat/completions", data=json.dumps(body).encode(), headers=auth
        )
        answer = json.loads(urllib.request.urlopen(post, timeout=120).read())
        assert answer["choices"][0]["message"]["content"]
    finally:
        _stop(serve)
    _check(trace)

    assert not (home / ".cache/Microsoft").exists()
    assert stray_files(home) == []


@pytest.mark.slow
def test_the_window_with_push_to_talk_reaches_nothing_outside(
    user_env, tmp_path, xvfb, sound_server
):
    home = Path(user_env["HOME"])
    env = {**user_env, "DISPLAY": xvfb, "QT_QPA_PLATFORM": "xcb", "PULSE_SERVER": sound_server}
    app = [sys.executable, "-m", "assistant"]
    wav = speak("What is the capital of France?", tmp_path / "q.wav")
    trace = tmp_path / "trace.window"
    window = _traced([*app, "gui"], trace, env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        end = time.monotonic() + 180
        while not _log_says(home, "microphone armed") and time.monotonic() < end:
            assert window.poll() is None, window.stderr.read()[-2000:]  # type: ignore[union-attr]
            time.sleep(0.5)
        assert _log_says(home, "microphone armed"), "the microphone was never armed"
        subprocess.run([*app, "ptt"], env=env, cwd=ROOT, check=True, timeout=60)
        time.sleep(0.5)
        play(wav, sound_server).wait(30)
        time.sleep(0.8)
        subprocess.run([*app, "ptt"], env=env, cwd=ROOT, check=True, timeout=60)
        db = home / ".local/share/assistant/history.sqlite3"
        end = time.monotonic() + 120
        while time.monotonic() < end and not any(s == "complete" for s, _ in stored_answers(db)):
            time.sleep(0.5)
        assert any(s == "complete" for s, _ in stored_answers(db)), (
            "no answer to the spoken question"
        )
        time.sleep(15)  # a process that stays alive is where telemetry used to start sending
    finally:
        _stop(window)
    _check(trace)
    assert not (home / ".cache/Microsoft").exists()
    assert stray_files(home) == []
