"""Writing files safely: all or nothing, and a clear word when the disk is full."""

from __future__ import annotations

import errno
import os
import shutil
import sqlite3
import tempfile
from pathlib import Path

from assistant.core.base.errors import DiskFullError

MB = 1024 * 1024
_FULL_ERRNOS = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}
_FULL_WORDS = ("no space left on device", "database or disk is full", "disk is full", "os error 28")


def size_text(n: float) -> str:
    """A size for people: "512 bytes", "3.4 KB", "491.0 MB", "4.6 GB"."""
    for unit in ("bytes", "KB", "MB"):
        if n < 1024:
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"


def free_bytes(path: Path) -> int | None:
    """Free space on the volume holding ``path`` (or its nearest existing parent)."""
    p = Path(path)
    while not p.exists() and p != p.parent:
        p = p.parent
    try:
        return shutil.disk_usage(p).free
    except OSError:
        return None


def mount_point(path: Path) -> Path:
    p = Path(path).absolute()
    while not p.exists() and p != p.parent:
        p = p.parent
    while not os.path.ismount(p) and p != p.parent:
        p = p.parent
    return p


def is_disk_full(e: BaseException) -> bool:
    """Whether an error (or one it was raised from) means there is no space left."""
    seen: set[int] = set()
    err: BaseException | None = e
    while err is not None and id(err) not in seen:
        seen.add(id(err))
        if isinstance(err, DiskFullError):
            return True
        if isinstance(err, OSError) and err.errno in _FULL_ERRNOS:
            return True
        if isinstance(err, sqlite3.Error) and getattr(err, "sqlite_errorcode", None) == 13:
            return True  # SQLITE_FULL
        if any(w in str(err).lower() for w in _FULL_WORDS):
            return True
        err = err.__cause__ or err.__context__
    return False


def disk_full(where: Path, need: int | None = None) -> DiskFullError:
    """ "The disk is full (3 MB free on /home): free space and try again." """
    free = free_bytes(where)
    have = f"{free / MB:.0f} MB free" if free is not None else "no space left"
    needs = f"; this needs about {need / MB:.0f} MB" if need and need >= MB else ""
    return DiskFullError(
        f"The disk is full ({have} on {mount_point(where)}{needs}).", "Free space and try again."
    )


def ensure_free(where: Path, need: int) -> None:
    free = free_bytes(where)
    if free is not None and free < need:
        raise disk_full(where, need)


def atomic_write(path: Path, data: bytes | str, encoding: str = "utf-8") -> None:
    """Write a whole file or nothing: a temp file beside it, synced, then renamed.

    A failure (a full disk, an interruption) leaves no empty or half-written
    file under the final name, and an older file there stays as it was.
    """
    path = Path(path)
    raw = data.encode(encoding) if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(raw)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(e, OSError) and is_disk_full(e):
            raise disk_full(path.parent, len(raw)) from e
        raise


def atomic_copy(src: Path, dest: Path) -> None:
    """Copy a file whole or not at all (a ``.part`` beside ``dest``, synced, renamed)."""
    part = dest.with_name(dest.name + ".part")
    try:
        shutil.copyfile(src, part)
        with part.open("rb+") as f:
            os.fsync(f.fileno())
        os.replace(part, dest)
    except BaseException:
        part.unlink(missing_ok=True)  # never a half-copied file under its real name
        raise
