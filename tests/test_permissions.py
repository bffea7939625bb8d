"""Nobody else on the computer can read what the app keeps: owner-only folders and files,
whatever the umask, and an older install tightened at the next start."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.conftest import ROOT

MARK = "my bank PIN is 4321"


def _cli(env: dict[str, str], *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    r = subprocess.run(
        [sys.executable, "-m", "assistant", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        preexec_fn=lambda: os.umask(0o022),  # a usual user umask: files 644, folders 755
    )
    assert r.returncode == 0, (args, r.stderr[-2000:])
    return r


def _open_to_others(*roots: Path) -> list[str]:
    bad = []
    for root in roots:
        for p in [root, *root.rglob("*")]:
            st = p.lstat()
            if not stat.S_ISLNK(st.st_mode) and st.st_mode & 0o077:
                bad.append(f"{stat.S_IMODE(st.st_mode):o} {p}")
    return bad


def _workload(env: dict[str, str], where: Path, docs: Path) -> None:
    _cli(env, "memory", "add", MARK)
    _cli(env, "ask", "Hello there")
    _cli(env, "docs", "add", str(docs))
    _cli(env, "memory", "search", "bank")
    _cli(env, "settings", "set", "generation.max_tokens", "64")
    _cli(env, "history", "export", "-o", str(where / "export.json"))
    _cli(env, "history", "backup")


@pytest.fixture
def shared_tmp():
    """A folder other users can enter, as /home is (pytest's own tmp is owner-only,
    which would hide everything from a second user whatever the app did)."""
    d = Path(tempfile.mkdtemp(prefix="perm-", dir="/tmp"))
    d.chmod(0o755)
    yield d
    subprocess.run(["rm", "-rf", str(d)], check=False)


@pytest.mark.slow
def test_everything_the_app_makes_is_owner_only_and_a_second_user_reads_nothing(
    user_env, shared_tmp
):
    home = shared_tmp / "home"
    home.mkdir()
    home.chmod(0o755)
    env = {**user_env, "HOME": str(home)}
    docs = shared_tmp / "docs"
    docs.mkdir()
    (docs / "notes.md").write_text(f"# Notes\n\nMy locker code is 9876 and {MARK}.\n")
    _workload(env, home, docs)

    ours = [home / ".local/share/assistant", home / ".config/assistant", home / ".cache/assistant"]
    made = {p.name for p in (home / ".local/share/assistant").iterdir()}
    assert {"history.sqlite3", "index", "backups"} <= made, made
    assert _open_to_others(*ours, home / "export.json") == []

    # ASSISTANT_HOME made by the app: the same, the folder itself included.
    profile = home / "profile"
    _cli({**env, "ASSISTANT_HOME": str(profile)}, "memory", "add", MARK)
    _cli({**env, "ASSISTANT_HOME": str(profile)}, "ask", "Hello again")
    assert _open_to_others(profile) == []

    if os.geteuid() != 0:
        pytest.skip("reading as a second user needs root to switch users")
    files = [p for root in ours for p in root.rglob("*") if p.is_file()]
    probe = 'for f; do head -c 1 "$f" >/dev/null 2>&1 && echo "$f"; done; exit 0'
    r = subprocess.run(
        ["/bin/sh", "-c", probe, "sh", *map(str, files), str(home / "export.json")],
        capture_output=True,
        text=True,
        user=65534,  # nobody
        group=65534,
        extra_groups=[],
        cwd="/",
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout == "", f"a second user could read: {r.stdout[:500]}"
    # …while the same check as the owner reads them all (the probe itself works).
    mine = subprocess.run(
        ["/bin/sh", "-c", probe, "sh", *map(str, files)], capture_output=True, text=True
    )
    assert len(mine.stdout.splitlines()) == len(files)
    assert len(files) > 20  # the database, index segments, backups, logs, the embedder…


def test_an_older_install_is_made_owner_only_at_the_next_start(user_env, shared_tmp):
    home = shared_tmp / "home"
    env = {**user_env, "HOME": str(home), "ASSISTANT_HOME": str(shared_tmp / "profile")}
    profile = shared_tmp / "profile"
    _cli(env, "memory", "add", MARK)
    for p in [profile, *profile.rglob("*")]:  # as an earlier version left them
        p.chmod(0o755 if p.is_dir() else 0o644)
    assert _open_to_others(profile / "data")
    _cli(env, "memory", "list")
    assert _open_to_others(profile / "data", profile / "config", profile / "cache") == []
