"""Opening the history database: checked before anything is written to it.

- A damaged file (not a database, or pages that fail ``integrity_check``) is
  refused in one line that offers the newest backup; nothing is written into
  it, so later commands cannot make it worse.
- A file that is empty (0 bytes) although backups of it exist was damaged,
  not new: it is refused the same way instead of silently becoming an empty
  history.
- On a full disk SQLite cannot even create its shared-memory file, so the
  database is opened read-only (``immutable``, when no write-ahead log holds
  unmerged commits): reading the history works, and writes fail with "the
  disk is full".
- Schema migrations run after a verified backup.
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

from assistant.core.base.errors import HistoryDamagedError, HistoryError
from assistant.core.base.files import MB, disk_full, free_bytes, is_disk_full
from assistant.core.history import backups, migrations
from assistant.core.history.faults import is_damaged_database, one_line

log = logging.getLogger(__name__)

LOW_SPACE = 1 * MB  # below this, an I/O error at open means the disk is full
FULL_CHECK_BYTES = 256 * MB


def open_database(path: Path, backups_dir: Path) -> tuple[sqlite3.Connection, bool]:
    """A connection to the history database, and whether it is read-only."""
    existed = path.exists()
    newest = None if existed else next(iter(backups.list_backups(backups_dir)), None)
    if newest is not None:
        # Deleted or lost: an empty history started over it would hide the backups.
        raise HistoryDamagedError(
            f"The history database {path} is missing, but there are backups of it.",
            f"Restore the newest (from {newest.when}) with `assistant history restore`, or "
            f"move {backups_dir} aside to start a new history.",
        )
    if existed and path.is_dir():
        raise HistoryError(f"{path} is a folder, not the history database.", "Move it aside.")
    if existed and path.stat().st_size == 0 and _was_used(path, backups_dir):
        raise backups.damaged(path, backups_dir, "0 bytes, although it held your history")
    db: sqlite3.Connection | None = None
    try:
        db = _connect(path)
        if existed:  # read before anything is written: the WAL switch writes the header
            _check(db, path, backups_dir)
            _foreign(db, path)
        _configure(db)
        _migrate(db, path, backups_dir)
        return db, False
    except BaseException as e:
        if db is not None:
            db.close()
        if not isinstance(e, sqlite3.DatabaseError):
            raise
        if is_damaged_database(e):
            raise backups.damaged(path, backups_dir, str(e)) from e
        if (free_bytes(path.parent) or 0) < LOW_SPACE or is_disk_full(e):
            ro = _read_only(path) if existed else None
            if ro is not None:
                log.info("the disk is full: history opened read-only")
                return ro, True
            raise disk_full(path.parent) from e
        raise HistoryError(
            f"Cannot open the history database {path}: {e}.",
            "Check that the folder is writable.",
        ) from e


def _was_used(path: Path, backups_dir: Path) -> bool:
    """Backups of it, or a search index built from it: an empty file means damage."""
    return bool(backups.list_backups(backups_dir)) or (path.parent / "index").exists()


def _connect(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=10)
    db.execute("PRAGMA busy_timeout = 10000")
    return db


def _foreign(db: sqlite3.Connection, path: Path) -> None:
    version = db.execute("PRAGMA user_version").fetchone()[0]
    if version == 0 and db.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()[0]:
        raise HistoryError(  # another program's database under our name: never write into it
            f"{path} is an SQLite database, but not an assistant history.",
            "Move it aside; the assistant starts a new history (or restores a backup) then.",
        )


def _configure(db: sqlite3.Connection) -> None:
    try:
        db.execute("PRAGMA journal_mode = WAL")
        # NORMAL in WAL mode survives any process crash; only power loss
        # can drop the very last commits.
        db.execute("PRAGMA synchronous = NORMAL")
        db.execute("PRAGMA foreign_keys = ON")
        # Deleted rows (a forgotten memory, a deleted chat) are overwritten, not left
        # readable in free pages of the file; sorting never spills into /var/tmp.
        db.execute("PRAGMA secure_delete = ON")
        db.execute("PRAGMA temp_store = MEMORY")
    except BaseException:
        db.close()
        raise


def _check(db: sqlite3.Connection, path: Path, backups_dir: Path) -> None:
    """Damaged pages found now, not half-way through a command that writes.

    ``integrity_check`` also compares every index with its table (a damaged row
    that ``quick_check`` misses); it takes ~0.1 s for 80 MB, so only huge files
    get the quicker check."""
    full = path.stat().st_size < FULL_CHECK_BYTES
    rows = db.execute("PRAGMA integrity_check" if full else "PRAGMA quick_check").fetchall()
    if rows and rows[0][0] != "ok":
        first = one_line(str(rows[0][0]))
        n = len(rows) - 1
        more = f", and {n} more problem{'s' * (n != 1)}" if n else ""
        raise backups.damaged(path, backups_dir, f"{first}{more}")


def _read_only(path: Path) -> sqlite3.Connection | None:
    wal = path.with_name(path.name + "-wal")
    if wal.exists() and wal.stat().st_size > 0:
        return None  # commits still in the log: reading the main file alone could be stale
    try:
        db = sqlite3.connect(
            f"file:{path}?immutable=1", uri=True, check_same_thread=False, isolation_level=None
        )
        db.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
        return db
    except sqlite3.Error:
        return None


def _migrate(db: sqlite3.Connection, path: Path, backups_dir: Path) -> None:
    version = db.execute("PRAGMA user_version").fetchone()[0]
    latest = migrations.LATEST_VERSION
    if version > latest:
        raise HistoryError(
            f"The history in {path} was written by a newer version "
            f"(schema {version}, this version knows {latest}).",
            "Update the assistant; your history was left untouched.",
        )
    if version == latest:
        return
    if version > 0:
        backups.make_backup(db, backups_dir, f"before-migration-v{version}-to-v{latest}")
    for target in range(version + 1, latest + 1):
        log.info("migrating history schema to v%d", target)
        db.execute("BEGIN IMMEDIATE")
        try:
            for statement in migrations.statements(migrations.MIGRATIONS[target - 1]):
                db.execute(statement)
            db.execute(f"PRAGMA user_version = {target}")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
