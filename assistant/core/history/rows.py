"""The history's rows as dataclasses, and its full-text search (FTS5) helpers."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Conversation:
    id: int
    uid: str
    title: str
    system_prompt: str | None
    model: str | None
    pinned: bool
    current_leaf_id: int | None
    created_at: float
    updated_at: float


@dataclass
class Message:
    id: int
    uid: str
    conversation_id: int
    parent_id: int | None
    role: str
    content: str
    status: str
    model: str | None
    created_at: float
    stats: dict[str, Any] = field(default_factory=dict)


@dataclass
class SearchHit:
    conversation_id: int
    conversation_title: str
    message_id: int
    role: str
    snippet: str


MSG_COLS = (
    "m.id, m.uid, m.conversation_id, m.parent_id, m.role, "
    "COALESCE(d.content, m.content), m.status, m.model, m.created_at, m.stats"
)
MSG_FROM = "messages m LEFT JOIN message_drafts d ON d.message_id = m.id"
CONV_COLS = "id, uid, title, system_prompt, model, pinned, current_leaf_id, created_at, updated_at"


def conversation_from(row: tuple) -> Conversation:
    return Conversation(*row[:5], bool(row[5]), *row[6:])  # type: ignore[arg-type]


def message_from(row: tuple) -> Message:
    *head, stats = row
    return Message(*head, stats=json.loads(stats) if stats else {})  # type: ignore[arg-type]


def purge_words(db: sqlite3.Connection, fts_table: str) -> None:
    """Merge a full-text index so the words of deleted rows leave the file: FTS5 marks
    deletions in new segments and keeps the old ones until they merge (~0.2 s for
    20,000 messages)."""
    db.execute(f"INSERT INTO {fts_table}({fts_table}) VALUES ('optimize')")


def fts_query(text: str, op: str = " ") -> str:
    """User words as an FTS5 query: each quoted (no operators get through), prefix-matched,
    joined by ``op`` (" " = all words, " OR " = any). Empty when there are no words."""
    words = [w.replace('"', '""') for w in text.split()]
    return op.join(f'"{w}"*' for w in words)


def search_messages(
    fetch: Callable[[str, tuple], list[tuple]], query: str, limit: int, marks: tuple[str, str]
) -> list[SearchHit]:
    """Messages matching every word (as prefixes), best first, with conversations whose
    title contains the query put before them."""
    fts = fts_query(query)
    if not fts:
        return []
    rows = fetch(
        "SELECT m.conversation_id, c.title, m.id, m.role,"
        " snippet(messages_fts, 0, ?, ?, '…', 16)"
        " FROM messages_fts JOIN messages m ON m.id = messages_fts.rowid"
        " JOIN conversations c ON c.id = m.conversation_id"
        " WHERE messages_fts MATCH ? ORDER BY rank LIMIT ?",
        (*marks, fts, limit),
    )
    hits = [SearchHit(*r) for r in rows]
    seen = {h.conversation_id for h in hits}
    for c in fetch(
        f"SELECT {CONV_COLS} FROM conversations WHERE title LIKE ? ORDER BY updated_at DESC",
        (f"%{query.strip()}%",),
    ):
        conv = conversation_from(c)
        if conv.id not in seen:
            hits.insert(0, SearchHit(conv.id, conv.title, 0, "title", conv.title))
    return hits[:limit]
