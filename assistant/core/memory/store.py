"""Long-term memories about the user: SQLite rows with provenance and history.

The source of truth for recall (the vector index is derived from these rows).
A newer fact about the same thing supersedes the old one, which stays in the
chain for the user to see; forgetting deletes a memory and its whole chain.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from assistant.core.base.errors import AssistantError
from assistant.core.history.rows import fts_query, purge_words
from assistant.core.history.store import HistoryStore
from assistant.core.memory.remember import normalise, slot_key

_COLS = (
    "id, uid, text, status, origin, source_conversation_id, source_message_id, "
    "superseded_by, created_at, updated_at"
)
_M_COLS = ", ".join(f"m.{c.strip()}" for c in _COLS.split(","))


@dataclass(frozen=True)
class Memory:
    id: int
    uid: str
    text: str
    status: str  # active | proposed | superseded | rejected
    origin: str  # user | extracted | imported
    source_conversation_id: int | None
    source_message_id: int | None
    superseded_by: int | None
    created_at: float
    updated_at: float


class MemoryStore:
    def __init__(self, store: HistoryStore) -> None:
        self.store = store

    def _rows(self, sql: str, args: tuple = ()) -> list[Memory]:
        return [Memory(*r) for r in self.store.fetch(sql, args)]

    def get(self, memory_id: int) -> Memory:
        rows = self._rows(f"SELECT {_COLS} FROM memories WHERE id = ?", (memory_id,))
        if not rows:
            raise AssistantError(f"No memory with id {memory_id}.", "See `assistant memory list`.")
        return rows[0]

    def add(
        self,
        text: str,
        origin: str = "user",
        source_message_id: int | None = None,
        proposed: bool = False,
        supersedes: Iterable[int] = (),
    ) -> Memory:
        """Save a memory; ``supersedes`` are the ids of facts it replaces."""
        text = " ".join(text.split())
        if not text:
            raise AssistantError("A memory needs some text.")
        now = time.time()
        conv_id = None
        if source_message_id is not None:
            conv_id = self.store.get_message(source_message_id).conversation_id
        with self.store.transaction() as db:
            cur = db.execute(
                "INSERT INTO memories (uid, text, status, origin, source_conversation_id,"
                " source_message_id, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    uuid.uuid4().hex,
                    text,
                    "proposed" if proposed else "active",
                    origin,
                    conv_id,
                    source_message_id,
                    now,
                    now,
                ),
            )
            new_id = cur.lastrowid
            for old in supersedes:
                db.execute(
                    "UPDATE memories SET status = 'superseded', superseded_by = ?, updated_at = ?"
                    " WHERE id = ? AND id != ?",
                    (new_id, now, old, new_id),
                )
        return self.get(new_id)  # type: ignore[arg-type]

    def remember(
        self,
        text: str,
        origin: str = "user",
        source_message_id: int | None = None,
        proposed: bool = False,
    ) -> Memory:
        """Save a fact unless it is known already; it supersedes facts about the same thing."""
        key = slot_key(text)
        same = normalise(text)
        supersedes = []
        for m in self.list("active") + self.list("proposed") + self.list("rejected"):
            if normalise(m.text) != same:
                if key and m.status == "active" and slot_key(m.text) == key:
                    supersedes.append(m.id)
                continue
            if m.status == "active" or proposed:
                return m  # known, already suggested, or turned down: nothing new
            return self.accept(m.id)  # saved on purpose: the suggestion becomes a memory
        if proposed:
            # A proposal replaces nothing until it is accepted.
            return self.add(text, origin, source_message_id, proposed=True)
        return self.add(text, origin, source_message_id, supersedes=supersedes)

    def accept(self, memory_id: int) -> Memory:
        """Accept a proposal: it becomes active and supersedes facts about the same thing."""
        m = self.get(memory_id)
        if m.status == "active":
            return m  # accepted already
        if m.status == "superseded":
            raise AssistantError(
                f"Memory #{m.id} was replaced by a newer one.",
                f"See `assistant memory history {m.id}`.",
            )
        key = slot_key(m.text)
        olds = [
            o.id for o in self.list("active") if key and o.id != m.id and slot_key(o.text) == key
        ]
        now = time.time()
        with self.store.transaction() as db:
            db.execute(
                "UPDATE memories SET status = 'active', updated_at = ? WHERE id = ?", (now, m.id)
            )
            for old in olds:
                db.execute(
                    "UPDATE memories SET status = 'superseded', superseded_by = ?, updated_at = ?"
                    " WHERE id = ?",
                    (m.id, now, old),
                )
        return self.get(memory_id)

    def list(self, status: str | None = "active", limit: int = 100_000) -> list[Memory]:
        if status is None:
            return self._rows(
                f"SELECT {_COLS} FROM memories ORDER BY updated_at DESC LIMIT ?", (limit,)
            )
        return self._rows(
            f"SELECT {_COLS} FROM memories WHERE status = ? ORDER BY updated_at DESC LIMIT ?",
            (status, limit),
        )

    def search_text(self, query: str, limit: int = 20) -> list[Memory]:
        """Keyword search (FTS5, prefix match) over active memories."""
        fts = fts_query(query, " OR ")
        if not fts:
            return []
        return self._rows(
            f"SELECT {_M_COLS} FROM memories_fts"
            " JOIN memories m ON m.id = memories_fts.rowid"
            " WHERE memories_fts MATCH ? AND m.status = 'active' ORDER BY rank LIMIT ?",
            (fts, limit),
        )

    def edit(self, memory_id: int, text: str) -> Memory:
        """Correct a memory: the old wording is kept as a superseded version.

        Like a new fact, the correction also replaces other facts about the same thing.
        """
        old = self.get(memory_id)
        if " ".join(text.split()) == old.text:
            return old
        key = slot_key(text)
        same = [
            m.id for m in self.list("active") if key and m.id != old.id and slot_key(m.text) == key
        ]
        return self.add(
            text,
            origin=old.origin,
            source_message_id=old.source_message_id,
            supersedes=[old.id, *same],
        )

    def reject(self, memory_id: int) -> Memory:
        """Turn a suggestion down: it is not suggested again."""
        m = self.get(memory_id)
        if m.status != "proposed":
            raise AssistantError(
                f"Memory #{m.id} is not a suggestion (it is {m.status}).",
                "To delete a saved memory use `assistant memory forget`.",
            )
        return self.set_status(memory_id, "rejected")

    def set_status(self, memory_id: int, status: str) -> Memory:
        if status not in ("active", "rejected"):
            raise ValueError(status)
        with self.store.transaction() as db:
            db.execute(
                "UPDATE memories SET status = ?, updated_at = ? WHERE id = ?",
                (status, time.time(), memory_id),
            )
        return self.get(memory_id)

    def history(self, memory_id: int) -> list[Memory]:
        """A memory and every version it replaced (directly or not), newest first."""
        chain = [self.get(memory_id)]
        seen = {memory_id}
        frontier = [memory_id]
        while frontier:
            marks = ",".join("?" * len(frontier))
            older = self._rows(
                f"SELECT {_COLS} FROM memories WHERE superseded_by IN ({marks})", tuple(frontier)
            )
            older = [m for m in older if m.id not in seen]
            seen.update(m.id for m in older)
            chain += older
            frontier = [m.id for m in older]
        return [chain[0], *sorted(chain[1:], key=lambda m: (m.updated_at, m.id), reverse=True)]

    def forget(self, memory_id: int) -> list[int]:
        """Delete a memory and every older version of it; returns the deleted ids."""
        versions = self.history(memory_id)
        ids = [m.id for m in versions]
        with self.store.transaction() as db:
            db.executemany("DELETE FROM memories WHERE id = ?", [(i,) for i in ids])
            purge_words(db, "memories_fts")
        sql = [("DELETE FROM memories WHERE uid = ?", (m.uid,)) for m in versions]
        self.store.scrub_backups(sql, ("memories_fts",))
        return ids

    def forget_all(self) -> int:
        with self.store.transaction() as db:
            n = db.execute("SELECT COUNT(*) FROM memories").fetchone()[0]
            db.execute("DELETE FROM memories")
            purge_words(db, "memories_fts")
        self.store.scrub_backups([("DELETE FROM memories", ())], ("memories_fts",))
        return int(n)
