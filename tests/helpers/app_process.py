"""Watching the app run as its own process: wait for something, read its answers."""

from __future__ import annotations

import sqlite3
import subprocess
import time
from pathlib import Path


def wait(predicate, timeout: float, what: str, proc: subprocess.Popen | None = None):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            raise AssertionError(
                f"the app exited ({proc.returncode}): {proc.stderr.read()[-2000:]}"
            )
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def answer_to(question: str, home: Path) -> str | None:
    db = home / "data" / "history.sqlite3"
    if not db.exists():
        return None
    con = sqlite3.connect(db)
    try:
        rows = con.execute(
            "SELECT a.content FROM messages q JOIN messages a ON a.parent_id = q.id "
            "WHERE q.content = ? AND a.role = 'assistant' AND a.status = 'complete'",
            (question,),
        ).fetchall()
    except sqlite3.OperationalError:
        return None
    finally:
        con.close()
    return rows[0][0] if rows else None
