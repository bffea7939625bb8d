"""Answers as they stream: the assistant message an answer goes into, its draft
(``message_drafts``, one small commit per token, so a crash loses nothing that was
shown), and folding in the drafts of writers that died.

``HistoryStore`` has these methods; they live here because they are one concern.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from assistant.core.history.rows import Message

log = logging.getLogger(__name__)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class DraftsMixin:
    """Streaming answers, for ``HistoryStore`` (its connection, lock and transactions)."""

    _db: sqlite3.Connection
    _lock: threading.RLock
    transaction: Callable[[], AbstractContextManager[sqlite3.Connection]]
    get_message: Callable[[int], Message]
    _query: Callable[..., list[tuple]]
    _write_error: Callable[[sqlite3.Error], Exception]

    def start_draft(
        self, conversation_id: int, parent_id: int | None, model: str | None = None
    ) -> Message:
        """Create the assistant message an answer will stream into."""
        now = time.time()
        with self.transaction() as db:
            cur = db.execute(
                "INSERT INTO messages (uid, conversation_id, parent_id, role, content, status,"
                " model, created_at) VALUES (?, ?, ?, 'assistant', '', 'streaming', ?, ?)",
                (uuid.uuid4().hex, conversation_id, parent_id, model, now),
            )
            mid = cur.lastrowid
            db.execute(
                "INSERT INTO message_drafts (message_id, content, owner_pid, updated_at)"
                " VALUES (?, '', ?, ?)",
                (mid, os.getpid(), now),
            )
            db.execute(
                "UPDATE conversations SET current_leaf_id = ?, updated_at = ? WHERE id = ?",
                (mid, now, conversation_id),
            )
        return self.get_message(mid)  # type: ignore[arg-type]

    def update_draft(self, message_id: int, content: str) -> None:
        """One small commit per call; cheap in WAL mode with synchronous=NORMAL."""
        with self._lock:
            try:
                self._db.execute(
                    "UPDATE message_drafts SET content = ?, updated_at = ? WHERE message_id = ?",
                    (content, time.time(), message_id),
                )
            except sqlite3.Error as e:
                raise self._write_error(e) from e

    def finish_draft(
        self,
        message_id: int,
        content: str,
        status: str = "complete",
        stats: dict[str, Any] | None = None,
    ) -> Message:
        with self.transaction() as db:
            db.execute(
                "UPDATE messages SET content = ?, status = ?, stats = ? WHERE id = ?",
                (content, status, json.dumps(stats) if stats else None, message_id),
            )
            db.execute("DELETE FROM message_drafts WHERE message_id = ?", (message_id,))
        return self.get_message(message_id)

    def discard_draft(self, message_id: int) -> None:
        """Remove an answer that never produced text; the branch ends at its parent again."""
        m = self.get_message(message_id)
        with self.transaction() as db:
            db.execute("DELETE FROM messages WHERE id = ?", (message_id,))
            db.execute(
                "UPDATE conversations SET current_leaf_id = ? WHERE id = ? AND current_leaf_id = ?",
                (m.parent_id, m.conversation_id, message_id),
            )

    def recover_drafts(self) -> int:
        """Fold drafts of dead writers back into their messages as 'interrupted'."""
        rows = self._query("SELECT message_id, content, owner_pid FROM message_drafts")
        orphans = [(mid, text) for mid, text, pid in rows if not _pid_alive(pid)]
        if not orphans:
            return 0
        with self.transaction() as db:
            for mid, text in orphans:
                db.execute(
                    "UPDATE messages SET content = ?, status = 'interrupted' WHERE id = ?",
                    (text, mid),
                )
                db.execute("DELETE FROM message_drafts WHERE message_id = ?", (mid,))
        log.info("recovered %d interrupted answer(s)", len(orphans))
        return len(orphans)
