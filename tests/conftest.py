"""Shared fixtures. Every test gets its own ASSISTANT_HOME; nothing leaves loopback."""

from __future__ import annotations

import ipaddress
import os
import random
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def _loopback(address: object) -> bool:
    if isinstance(address, tuple) and address:
        host = str(address[0])
        if host == "localhost":
            return True
        try:
            return ipaddress.ip_address(host.split("%")[0]).is_loopback
        except ValueError:
            return False
    return True  # AF_UNIX paths and the like


_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _guarded_connect(self: socket.socket, address: object) -> None:
    if self.family in (socket.AF_INET, socket.AF_INET6) and not _loopback(address):
        raise OSError(f"test suite is offline: refused connection to {address!r}")
    return _real_connect(self, address)


def _guarded_connect_ex(self: socket.socket, address: object) -> int:
    if self.family in (socket.AF_INET, socket.AF_INET6) and not _loopback(address):
        raise OSError(f"test suite is offline: refused connection to {address!r}")
    return _real_connect_ex(self, address)


socket.socket.connect = _guarded_connect  # type: ignore[method-assign]
socket.socket.connect_ex = _guarded_connect_ex  # type: ignore[method-assign]


@pytest.fixture(autouse=True)
def assistant_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("ASSISTANT_HOME", str(home))
    return home


@pytest.fixture
def user_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A first start as a user would make it: an empty HOME (0755), the default
    locations under it, a user umask of 022, and none of the app's or the test
    suite's variables (the app must switch telemetry off itself)."""
    home = tmp_path / "user-home"
    home.mkdir()
    home.chmod(0o755)
    run = tmp_path / "run"
    run.mkdir(mode=0o700)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("XDG_", "ASSISTANT_", "HF_"))}
    for k in ("ORT_DISABLE_TELEMETRY", "ANONYMIZED_TELEMETRY", "TRANSFORMERS_OFFLINE"):
        env.pop(k, None)
    env.update(HOME=str(home), XDG_RUNTIME_DIR=str(run), PYTHONPATH=str(ROOT))
    monkeypatch.delenv("ASSISTANT_HOME")
    return env


@pytest.fixture(scope="session")
def starter_gguf() -> Path:
    from assistant.core.base import starter

    p = starter.CHAT.path()
    assert p is not None, "starter chat model missing: run `make test`, which installs it"
    return p


@pytest.fixture(scope="session")
def engine(starter_gguf: Path) -> Iterator[object]:
    """The real starter model, loaded once for the session."""
    from assistant.core.config.settings import ModelSettings
    from assistant.core.engine.llama import ChatEngine

    eng = ChatEngine(ModelSettings(n_ctx=2048, n_threads=2), starter_gguf)
    yield eng
    eng.close()


@pytest.fixture(scope="session")
def embedder(tmp_path_factory: pytest.TempPathFactory) -> object:
    """The real bundled all-MiniLM-L6-v2, loaded once for the session."""
    from assistant.core.memory.embedder import Embedder

    e = Embedder(None, tmp_path_factory.mktemp("embedder-cache"))
    e.load()
    return e


@pytest.fixture(scope="session")
def sound_server(tmp_path_factory):
    """A private PulseAudio with a null sink; its monitor is the microphone."""
    if not shutil.which("pulseaudio"):
        pytest.skip("pulseaudio missing (make sysdeps)")
    folder = tmp_path_factory.mktemp("pulse")
    script = str(ROOT / "packaging" / "sound-server.sh")
    server = subprocess.run(
        [script, "start", str(folder)], check=True, capture_output=True, text=True
    ).stdout.strip()
    old = os.environ.get("PULSE_SERVER")
    os.environ["PULSE_SERVER"] = server
    yield server
    subprocess.run([script, "stop", str(folder)], check=False)
    if old is None:
        os.environ.pop("PULSE_SERVER", None)
    else:
        os.environ["PULSE_SERVER"] = old


@pytest.fixture
def xvfb():
    """A private X server on a free display number, up and accepting connections."""
    for n in random.sample(range(150, 900), 20):
        if Path(f"/tmp/.X11-unix/X{n}").exists() or Path(f"/tmp/.X{n}-lock").exists():
            continue
        proc = subprocess.Popen(
            ["Xvfb", f":{n}", "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
            stderr=subprocess.DEVNULL,
        )
        end = time.monotonic() + 10
        while proc.poll() is None and time.monotonic() < end:
            if Path(f"/tmp/.X11-unix/X{n}").exists():
                break
            time.sleep(0.05)
        if proc.poll() is None:
            time.sleep(0.2)
            yield f":{n}"
            proc.terminate()
            proc.wait(10)
            return
    pytest.fail("could not start Xvfb")


@pytest.fixture
def greedy():
    from assistant.core.config.settings import GenerationSettings

    return GenerationSettings(temperature=0.0, seed=7, max_tokens=64)


def stored_answers(db: Path) -> list[tuple[str, str]]:
    """(status, text) of the assistant messages in a history database, read from
    outside the app (nothing there yet: [])."""
    import sqlite3

    if not db.exists():
        return []
    con = sqlite3.connect(db)
    try:
        return con.execute(
            "SELECT status, content FROM messages WHERE role = 'assistant'"
        ).fetchall()
    except sqlite3.OperationalError:
        return []
    finally:
        con.close()


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 300, **kw):
    """Run `python -m assistant ...` in a subprocess, as a user would."""
    import subprocess

    return subprocess.run(
        [sys.executable, "-m", "assistant", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        cwd=ROOT,
        **kw,
    )
