"""Rolling, verified backups of the history database, and restoring one.

A backup is taken with SQLite's online backup API (consistent while the app
writes), checked with ``integrity_check``, synced and only then given its
final name, so ``backups/`` never holds a half-written copy. One is made when
the database is opened and the newest backup is over an hour old ("daily" for
the first of each day, "recent" for the others), and before risky operations
(a schema migration, an import); the newest ``KEEP_DAILY`` daily,
``KEEP_RECENT`` recent and ``KEEP_OTHER`` other backups are kept.

What the user deletes (a memory, everything they told the assistant, a
conversation) is deleted from the backups too (``scrub``).

Restoring never deletes anything: the current (damaged) file is set aside in
``backups/`` under a name that says so, then the backup is copied into place.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import re
import shutil
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from assistant.core.base.errors import HistoryDamagedError, HistoryError
from assistant.core.base.files import disk_full, is_disk_full
from assistant.core.base.paths import Paths
from assistant.core.history.faults import check_sqlite, is_damaged_database, one_line

log = logging.getLogger(__name__)

KEEP_DAILY = 7
KEEP_RECENT = 3
KEEP_OTHER = 5
DAY_S = 24 * 3600
RECENT_S = 3600
SET_ASIDE = "set-aside"  # files moved out of the way by a restore: never pruned, never restored
_NAME = re.compile(r"^history-(\d{8}-\d{6})(?:-(\d+))?-(.+)\.sqlite3$")


@dataclass(frozen=True)
class Backup:
    path: Path
    created: float
    reason: str
    size: int

    @property
    def when(self) -> str:
        return dt.datetime.fromtimestamp(self.created).strftime("%Y-%m-%d %H:%M")


@dataclass(frozen=True)
class Restored:
    backup: Backup
    set_aside: Path | None  # where the file it replaced went


def _parse(p: Path) -> Backup | None:
    m = _NAME.match(p.name)
    if not m or m.group(3).startswith(SET_ASIDE):
        return None
    try:
        created = dt.datetime.strptime(m.group(1), "%Y%m%d-%H%M%S").timestamp()
        return Backup(p, created, m.group(3), p.stat().st_size)
    except (ValueError, OSError):
        return None


def list_backups(folder: Path) -> list[Backup]:
    """Finished backups, newest first (half-made ``.part`` files are not listed)."""
    try:
        found = [b for p in folder.iterdir() if (b := _parse(p)) is not None]
    except OSError:
        return []
    return sorted(found, key=lambda b: (b.created, b.path.name), reverse=True)


def set_aside(folder: Path) -> list[Path]:
    """Files a restore moved out of the way (kept until the user deletes them)."""
    try:
        return sorted(folder.glob(f"history-*-{SET_ASIDE}.sqlite3"))
    except OSError:
        return []


def summary(path: Path) -> str:
    """ "12 conversations, 4 memories" in a database file, read-only; "" if unreadable."""
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            c = con.execute("SELECT COUNT(*) FROM conversations").fetchone()[0]
            m = con.execute("SELECT COUNT(*) FROM memories WHERE status = 'active'").fetchone()[0]
        finally:
            con.close()
    except sqlite3.Error:
        return ""
    return f"{c} conversation{'s' * (c != 1)}, {m} memor{'ies' if m != 1 else 'y'}"


def _target(folder: Path, reason: str) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    dest = folder / f"history-{stamp}-{reason}.sqlite3"
    n = 1
    while dest.exists():  # two in the same second
        dest = folder / f"history-{stamp}-{n}-{reason}.sqlite3"
        n += 1
    return dest


def make_backup(source: sqlite3.Connection, folder: Path, reason: str) -> Path:
    """Copy the live database into ``folder``, verified; prune older ones."""
    folder.mkdir(parents=True, exist_ok=True)
    dest = _target(folder, reason)
    part = dest.with_name(dest.name + ".part")
    try:
        out = sqlite3.connect(part)
        try:
            source.backup(out)
            # One self-contained file: no -wal/-shm beside it when it is checked or copied back.
            out.execute("PRAGMA journal_mode = DELETE")
        finally:
            out.close()
        problem = check_sqlite(part)
        if problem != "ok":
            raise HistoryError(f"The backup copy failed its check ({problem}).")
        with part.open("rb+") as f:
            os.fsync(f.fileno())
        os.replace(part, dest)
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    log.info("history backed up to %s", dest)
    prune(folder)
    return dest


def prune(folder: Path) -> None:
    found = list_backups(folder)
    daily = [b for b in found if b.reason == "daily"]
    recent = [b for b in found if b.reason == "recent"]
    other = [b for b in found if b.reason not in ("daily", "recent")]
    for b in daily[KEEP_DAILY:] + recent[KEEP_RECENT:] + other[KEEP_OTHER:]:
        with contextlib.suppress(OSError):
            b.path.unlink()
    for stale in folder.glob("history-*.sqlite3.part"):  # left by a killed backup
        if time.time() - stale.stat().st_mtime > 3600:
            with contextlib.suppress(OSError):
                stale.unlink()


def due(folder: Path, now: float | None = None) -> str | None:
    """The kind of backup to make now ("daily", "recent"), or None when one is fresh."""
    now = now or time.time()
    found = list_backups(folder)
    if found and now - found[0].created < RECENT_S:
        return None
    daily = next((b for b in found if b.reason == "daily"), None)
    return "daily" if daily is None or now - daily.created >= DAY_S else "recent"


def backup_if_due(db: Path, folder: Path) -> Path | None:
    """Make the backup that is due, if one is (``due``); a failure (a full disk) is
    logged, not raised: the user's command goes on."""
    kind = due(folder)
    if kind is None:
        return None
    try:
        src = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            return make_backup(src, folder, kind)
        finally:
            src.close()
    except Exception as e:
        log.warning("could not back up the history: %s", e)
        return None


def newest_good(folder: Path) -> Backup | None:
    for b in list_backups(folder):
        if check_sqlite(b.path) == "ok":
            return b
        log.warning("backup %s fails its integrity check; skipped", b.path.name)
    return None


def damaged(db: Path, folder: Path, problem: str) -> HistoryDamagedError:
    """The one-line error for a damaged database: what happened, and how to get the
    history back. Backups are mentioned only where there are some to restore from."""
    what = f"The history database {db} is damaged ({one_line(problem)})."
    newest = next(iter(list_backups(folder)), None)
    if newest is not None:
        return HistoryDamagedError(
            what,
            f"Restore the newest backup (from {newest.when}) with "
            "`assistant history restore`; the damaged file will be kept aside.",
        )
    return HistoryDamagedError(
        what,
        "There is no backup of it; move it aside to start a new history "
        "(an SQLite recovery tool may still get some of it back).",
    )


def scrub(folder: Path, statements: list[tuple[str, tuple]], fts: tuple[str, ...] = ()) -> int:
    """Apply a deletion to every backup too, so that what the user deleted (a memory,
    everything they told the assistant, a conversation) does not live on in them.
    ``secure_delete`` overwrites the freed pages; the full-text tables in ``fts`` are
    merged so their old segments, which still hold the deleted words, go too.
    Returns the backups changed."""
    changed = 0
    for path in [b.path for b in list_backups(folder)] + set_aside(folder):
        try:
            con = sqlite3.connect(path, isolation_level=None)
            try:
                con.execute("PRAGMA secure_delete = ON")
                con.execute("BEGIN IMMEDIATE")
                for sql, args in statements:
                    con.execute(sql, args)
                for table in fts:
                    con.execute(f"INSERT INTO {table}({table}) VALUES ('optimize')")
                con.execute("COMMIT")
            finally:
                con.close()
            changed += 1
        except sqlite3.Error as e:
            log.warning("could not apply a deletion to %s: %s", path.name, e)
    return changed


def restore(db: Path, folder: Path, backup: Backup | None = None) -> Restored:
    """Put ``backup`` (default: the newest that passes its check) in place of ``db``."""
    chosen = backup or newest_good(folder)
    if chosen is None:
        raise HistoryError(
            f"No usable backup in {folder}.",
            "Backups are made when the assistant is used; none that passes its check is there.",
        )
    problem = check_sqlite(chosen.path)
    if problem != "ok":
        raise HistoryError(f"The backup {chosen.path.name} is damaged too ({one_line(problem)}).")
    aside = None
    if db.exists():
        aside = _target(folder, SET_ASIDE)
        os.replace(db, aside)
        for suffix in ("-wal", "-shm"):
            side = db.with_name(db.name + suffix)
            if side.exists():
                os.replace(side, aside.with_name(aside.name + suffix))
    part = db.with_name(db.name + ".restore.part")
    shutil.copyfile(chosen.path, part)
    with part.open("rb+") as f:
        os.fsync(f.fileno())
    os.replace(part, db)
    log.info("history restored from %s (the old file is %s)", chosen.path, aside)
    return Restored(chosen, aside)


def explain(e: BaseException, paths: Paths) -> str | None:
    """The one line to show for ``e``, or None when it is not a known kind of failure."""
    if is_disk_full(e):
        where = getattr(e, "filename", None)
        return str(disk_full(Path(where).parent if where else paths.data_dir))
    if is_damaged_database(e):
        return str(damaged(paths.history_db, paths.backups_dir, str(e)))
    return None
