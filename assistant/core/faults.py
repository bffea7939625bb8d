"""Low-level failures a user can act on, as one line: a full disk, a damaged database.

Everything else stays an unexpected error (one line on screen, the traceback
in the log).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from assistant.core.files import disk_full, is_disk_full
from assistant.core.paths import Paths

_DAMAGED_CODES = {11, 26}  # SQLITE_CORRUPT, SQLITE_NOTADB


def is_damaged_database(e: BaseException) -> bool:
    if isinstance(e, sqlite3.DatabaseError):
        code = getattr(e, "sqlite_errorcode", None)
        text = str(e).lower()
        return code in _DAMAGED_CODES or "malformed" in text or "not a database" in text
    return False


def explain(e: BaseException, paths: Paths) -> str | None:
    """The one line to show for ``e``, or None when it is not a known kind of failure."""
    if is_disk_full(e):
        where = getattr(e, "filename", None)
        return str(disk_full(Path(where).parent if where else paths.data_dir))
    if is_damaged_database(e):
        from assistant.core.backups import damaged_advice

        return damaged_advice(paths.history_db, paths.backups_dir, str(e))
    return None
