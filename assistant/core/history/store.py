"""The history store: SQLite, the source of truth for every conversation.

WAL mode, migrations via ``user_version`` with a backup first, branching
messages (``parent_id``), full-text search (FTS5). Answers stream into
``message_drafts`` one commit per token, so a crash at any point loses
nothing that was shown; the next open folds orphaned drafts back in.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from assistant.core.base.errors import DiskFullError, HistoryError
from assistant.core.base.files import MB, disk_full, free_bytes, is_disk_full
from assistant.core.history import backups
from assistant.core.history.db import open_database
from assistant.core.history.drafts import DraftsMixin
from assistant.core.history.rows import (
    CONV_COLS,
    MSG_COLS,
    MSG_FROM,
    Conversation,
    Message,
    SearchHit,
    conversation_from,
    message_from,
    purge_words,
    search_messages,
)

log = logging.getLogger(__name__)


class HistoryStore(DraftsMixin):
    """Thread-safe access to one history database (one connection, one lock).

    Opening checks the file first (``history_db.open_database``): a damaged
    database is refused with the way back to a backup, and on a full disk it
    opens read-only so that reading still works.
    """

    def __init__(self, path: Path | str, backups_dir: Path | None = None) -> None:
        self.path = Path(path)
        self.backups_dir = backups_dir or self.path.parent / "backups"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._db, self.read_only = open_database(self.path, self.backups_dir)
        if not self.read_only:
            try:
                self.recover_drafts()
            except DiskFullError:  # reading goes on; the drafts are folded in at a later open
                log.info("interrupted answers left as they are: the disk is full")

    # -- plumbing ---------------------------------------------------------

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> HistoryStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            if self._db.in_transaction:  # nested: the outer one commits
                yield self._db
                return
            try:
                self._db.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as e:
                raise self._write_error(e) from e
            try:
                yield self._db
            except BaseException as e:
                with suppress(sqlite3.Error):
                    self._db.execute("ROLLBACK")
                if isinstance(e, sqlite3.Error):
                    raise self._write_error(e) from e
                raise
            try:
                self._db.execute("COMMIT")
            except sqlite3.Error as e:
                with suppress(sqlite3.Error):
                    self._db.execute("ROLLBACK")
                raise self._write_error(e) from e

    def _write_error(self, e: sqlite3.Error) -> Exception:
        """A failed write as the user should see it: the disk is full, or as it came."""
        if self.read_only or is_disk_full(e) or (free_bytes(self.path.parent) or 0) < MB:
            return disk_full(self.path.parent)
        return e

    def _query(self, sql: str, args: tuple = ()) -> list[tuple]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    fetch = _query  # read-only queries for modules sharing this database (memories)

    def has_message_uid(self, uid: str) -> bool:
        return bool(self._query("SELECT 1 FROM messages WHERE uid = ?", (uid,)))

    def user_version(self) -> int:
        return self._query("PRAGMA user_version")[0][0]

    def integrity_check(self) -> str:
        return self._query("PRAGMA integrity_check")[0][0]

    def backup(self, reason: str = "manual") -> Path:
        """A verified copy of the live database in the backups folder (SQLite's backup API)."""
        with self._lock:
            return backups.make_backup(self._db, self.backups_dir, reason)

    def _has_content(self) -> bool:
        return bool(
            self._query(
                "SELECT EXISTS(SELECT 1 FROM messages) OR EXISTS(SELECT 1 FROM memories)"
                " OR EXISTS(SELECT 1 FROM documents)"
            )[0][0]
        )

    def backup_if_used(self, reason: str) -> Path | None:
        """A backup before a risky change, when there is anything to lose."""
        return self.backup(reason) if self._has_content() else None

    def backup_if_due(self) -> Path | None:
        """A backup when the newest is over an hour old and there is something to keep
        (on its own connection, so the window can run it on a thread)."""
        if self.read_only or not self._has_content():
            return None
        return backups.backup_if_due(self.path, self.backups_dir)

    # -- conversations ----------------------------------------------------

    def create_conversation(
        self,
        title: str = "",
        system_prompt: str | None = None,
        model: str | None = None,
        uid: str | None = None,
        created_at: float | None = None,
        first_message: str | None = None,
    ) -> Conversation:
        """A new conversation; with ``first_message``, the user's first message is added in
        the same transaction (a full disk then leaves neither, never an empty chat)."""
        now = time.time()
        created = created_at or now
        with self.transaction() as db:
            cur = db.execute(
                "INSERT INTO conversations (uid, title, system_prompt, model, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (uid or uuid.uuid4().hex, title, system_prompt, model, created, max(created, now)),
            )
            cid = cur.lastrowid
            if first_message is not None:
                self.add_message(cid, "user", first_message, parent_id=None)  # type: ignore[arg-type]
        return self.get_conversation(cid)  # type: ignore[arg-type]

    def get_conversation(self, conversation_id: int) -> Conversation:
        rows = self._query(
            f"SELECT {CONV_COLS} FROM conversations WHERE id = ?", (conversation_id,)
        )
        if not rows:
            raise HistoryError(
                f"No conversation with id {conversation_id}.", "See `assistant history list`."
            )
        return conversation_from(rows[0])

    def find_conversation_uid(self, uid: str) -> Conversation | None:
        rows = self._query(f"SELECT {CONV_COLS} FROM conversations WHERE uid = ?", (uid,))
        return conversation_from(rows[0]) if rows else None

    def list_conversations(self, limit: int | None = None) -> list[Conversation]:
        sql = (
            f"SELECT {CONV_COLS} FROM conversations ORDER BY pinned DESC, updated_at DESC, id DESC"
        )
        if limit:
            sql += f" LIMIT {int(limit)}"
        return [conversation_from(r) for r in self._query(sql)]

    def latest_conversation(self) -> Conversation | None:
        """The conversation used most recently, pinned or not."""
        rows = self._query(
            f"SELECT {CONV_COLS} FROM conversations ORDER BY updated_at DESC, id DESC LIMIT 1"
        )
        return conversation_from(rows[0]) if rows else None

    def update_conversation(self, conversation_id: int, touch: bool = True, **fields: Any) -> None:
        """Change fields; ``touch`` also moves ``updated_at`` to now (or to a given time)."""
        allowed = {"title", "system_prompt", "model", "pinned", "current_leaf_id", "updated_at"}
        bad = set(fields) - allowed
        if bad:
            raise ValueError(f"cannot update {sorted(bad)}")
        if not fields:
            return
        if touch and "updated_at" not in fields:
            fields["updated_at"] = time.time()
        sets = ", ".join(f"{k} = ?" for k in fields)
        with self.transaction() as db:
            db.execute(
                f"UPDATE conversations SET {sets} WHERE id = ?",
                (*fields.values(), conversation_id),
            )

    def delete_conversation(self, conversation_id: int) -> None:
        uid = self._query("SELECT uid FROM conversations WHERE id = ?", (conversation_id,))
        with self.transaction() as db:
            db.execute("DELETE FROM conversations WHERE id = ?", (conversation_id,))
            purge_words(db, "messages_fts")
        if uid:
            sql = [("DELETE FROM conversations WHERE uid = ?", (uid[0][0],))]
            self.scrub_backups(sql, ("messages_fts",))

    def scrub_backups(self, statements: list[tuple[str, tuple]], fts: tuple[str, ...]) -> None:
        """A deletion the user made, applied to the backups as well."""
        backups.scrub(self.backups_dir, statements, fts)

    # -- messages ---------------------------------------------------------

    def add_message(
        self,
        conversation_id: int,
        role: str,
        content: str,
        parent_id: int | object | None = ...,
        status: str = "complete",
        model: str | None = None,
        stats: dict[str, Any] | None = None,
        uid: str | None = None,
        created_at: float | None = None,
        make_current: bool = True,
    ) -> Message:
        """Append a message. ``parent_id`` defaults to the conversation's current leaf."""
        now = time.time()
        with self.transaction() as db:
            if parent_id is ...:
                row = db.execute(
                    "SELECT current_leaf_id FROM conversations WHERE id = ?", (conversation_id,)
                ).fetchone()
                if row is None:
                    raise HistoryError(f"No conversation with id {conversation_id}.")
                parent_id = row[0]
            cur = db.execute(
                "INSERT INTO messages (uid, conversation_id, parent_id, role, content, status,"
                " model, stats, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    uid or uuid.uuid4().hex,
                    conversation_id,
                    parent_id,
                    role,
                    content,
                    status,
                    model,
                    json.dumps(stats) if stats else None,
                    created_at or now,
                ),
            )
            mid = cur.lastrowid
            if make_current:
                db.execute(
                    "UPDATE conversations SET current_leaf_id = ?, updated_at = ? WHERE id = ?",
                    (mid, now, conversation_id),
                )
        return self.get_message(mid)  # type: ignore[arg-type]

    def get_message(self, message_id: int) -> Message:
        rows = self._query(f"SELECT {MSG_COLS} FROM {MSG_FROM} WHERE m.id = ?", (message_id,))
        if not rows:
            raise HistoryError(f"No message with id {message_id}.")
        return message_from(rows[0])

    def messages(self, conversation_id: int) -> list[Message]:
        """Every message of a conversation, all branches, oldest first."""
        rows = self._query(
            f"SELECT {MSG_COLS} FROM {MSG_FROM} WHERE m.conversation_id = ? ORDER BY m.id",
            (conversation_id,),
        )
        return [message_from(r) for r in rows]

    def thread(self, conversation_id: int, leaf_id: int | None = None) -> list[Message]:
        """The branch ending at ``leaf_id`` (default: the current one), root first."""
        return self.branch(conversation_id, leaf_id)[0]

    def branch(
        self, conversation_id: int, leaf_id: int | None = None
    ) -> tuple[list[Message], dict[int | None, list[int]]]:
        """The branch (as ``thread``) and every message's versions, from one read.

        The versions map a parent id to its children's ids, oldest first: the
        alternatives (edits, regenerations) at that point of the conversation.
        """
        msgs = self.messages(conversation_id)
        versions: dict[int | None, list[int]] = {}
        for m in msgs:
            versions.setdefault(m.parent_id, []).append(m.id)
        by_id = {m.id: m for m in msgs}
        if leaf_id is None:
            leaf_id = self.get_conversation(conversation_id).current_leaf_id
        out: list[Message] = []
        node = by_id.get(leaf_id) if leaf_id is not None else None
        while node is not None:
            out.append(node)
            node = by_id.get(node.parent_id) if node.parent_id is not None else None
        out.reverse()
        return out, versions

    def siblings(self, message_id: int) -> list[Message]:
        """Alternatives to a message (edits, regenerations), itself included."""
        m = self.get_message(message_id)
        rows = self._query(
            f"SELECT {MSG_COLS} FROM {MSG_FROM} WHERE m.conversation_id = ?"
            " AND m.parent_id IS ? ORDER BY m.id",
            (m.conversation_id, m.parent_id),
        )
        return [message_from(r) for r in rows]

    def leaf_under(self, message_id: int) -> int:
        """The end of the branch through ``message_id``, taking the newest child each step."""
        versions = self.branch(self.get_message(message_id).conversation_id)[1]
        node = message_id
        while node in versions:
            node = versions[node][-1]  # the newest child
        return node

    def switch_branch(self, message_id: int) -> None:
        """Show the branch through ``message_id`` (an edit or regeneration)."""
        m = self.get_message(message_id)
        leaf = self.leaf_under(message_id)
        with self.transaction() as db:
            db.execute(
                "UPDATE conversations SET current_leaf_id = ? WHERE id = ?",
                (leaf, m.conversation_id),
            )

    # -- search -----------------------------------------------------------

    def search(
        self, query: str, limit: int = 20, marks: tuple[str, str] = ("[", "]")
    ) -> list[SearchHit]:
        """Full-text search over every message; words are matched as prefixes."""
        return search_messages(self._query, query, limit, marks)
