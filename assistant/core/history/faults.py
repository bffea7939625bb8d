"""Telling a damaged SQLite database from other failures, and checking one.

``backups.explain`` turns these (and a full disk) into the one line a user sees;
everything else stays an unexpected error (one line on screen, the traceback in
the log).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

_DAMAGED_CODES = {11, 26}  # SQLITE_CORRUPT, SQLITE_NOTADB


def is_damaged_database(e: BaseException) -> bool:
    if isinstance(e, sqlite3.DatabaseError):
        code = getattr(e, "sqlite_errorcode", None)
        text = str(e).lower()
        return code in _DAMAGED_CODES or "malformed" in text or "not a database" in text
    return False


def check_sqlite(path: Path, quick: bool = False) -> str:
    """``integrity_check`` (or ``quick_check``) of a database file, opened read-only:
    "ok", or what is wrong."""
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            pragma = "quick_check" if quick else "integrity_check"
            return str(con.execute(f"PRAGMA {pragma}").fetchone()[0])
        finally:
            con.close()
    except sqlite3.Error as e:
        return str(e)


def one_line(problem: str) -> str:
    """SQLite's check output as one readable line ("*** in database main ***" dropped)."""
    text = " ".join(problem.replace("*** in database main ***", " ").split())
    return text.rstrip(".") or "damaged"
