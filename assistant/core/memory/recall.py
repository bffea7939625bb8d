"""Recall for one turn: memories, document passages and past-conversation snippets.

Hybrid search: the vector index's nearest neighbours plus SQLite FTS5 keyword
hits, every candidate read back from SQLite (so nothing deleted is ever
recalled) and scored by exact cosine, with a bonus for a keyword match.
Below a per-kind threshold nothing is recalled; what clears it is packed best
first into a token budget and rendered as the request's ``context``.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from assistant.core.memory.keywords import keywords
from assistant.core.memory.knowledge import Knowledge
from assistant.core.memory.remember import about_the_user, to_second_person

log = logging.getLogger(__name__)

# Cosine thresholds for all-MiniLM-L6-v2. Memories are matched against the
# question rewritten about "the user": paraphrased pairs then score 0.45-0.75
# and unrelated ones below 0.3 (tests/test_recall.py holds such pairs).
MIN_SCORE = {"memory": 0.35, "document": 0.38, "conversation": 0.5}
# Within a kind, hits far below the best one are noise next to it.
RELATIVE_CUT = 0.25
KEYWORD_BONUS = 0.12  # a rare word in common is strong evidence, and short queries embed weakly
LIMITS = {"memory": 6, "document": 4, "conversation": 1}
# A new conversation starts clean: another conversation's answer comes into it only
# for what is clearly the same question asked again: as close as this, and no word of
# weight the earlier question lacked (the embedder puts "a soft yolk" and "a hard
# yolk" at 0.97, "my dog's name" and "my cat's name" at 0.76).
SAME_QUESTION = 0.9
PRIORITY = {"memory": 0, "document": 1, "conversation": 2}  # what the budget goes to first
CHARS_PER_TOKEN = 3.5  # estimate for budgeting; the inspector shows the real count

_KIND_COLLECTION = {"memory": "memories", "document": "documents", "conversation": "conversations"}


@dataclass(frozen=True)
class RecallItem:
    kind: str  # memory | document | conversation
    id: int  # memory id, passage id or message id
    text: str
    score: float
    path: str | None = None
    page: int | None = None
    heading: str | None = None
    conversation_id: int | None = None
    title: str | None = None  # the source conversation's title
    answer: str | None = None  # for a past question: the answer it got

    @property
    def label(self) -> str:
        if self.kind == "document" and self.path:
            where = (
                f", page {self.page}"
                if self.page
                else (f", {self.heading}" if self.heading else "")
            )
            return f"{Path(self.path).name}{where}"
        if self.kind == "conversation":
            return f"from conversation “{self.title or 'Untitled'}”"
        return "memory"

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["score"] = round(self.score, 4)
        d["label"] = self.label
        return {k: v for k, v in d.items() if v is not None}


@dataclass(frozen=True)
class Recall:
    items: tuple[RecallItem, ...]
    context: str | None

    @property
    def documents(self) -> list[RecallItem]:
        return [i for i in self.items if i.kind == "document"]


def _hydrate(kn: Knowledge, kind: str, ids: list[int]) -> dict[int, RecallItem]:
    if not ids:
        return {}
    marks = ",".join("?" * len(ids))
    if kind == "memory":
        rows = kn.store.fetch(
            "SELECT id, text, source_conversation_id FROM memories"
            f" WHERE status = 'active' AND id IN ({marks})",
            tuple(ids),
        )
        return {r[0]: RecallItem("memory", r[0], r[1], 0.0, conversation_id=r[2]) for r in rows}
    if kind == "document":
        rows = kn.store.fetch(
            "SELECT c.id, c.text, d.path, c.page, c.heading FROM doc_chunks c"
            f" JOIN documents d ON d.id = c.document_id WHERE c.id IN ({marks})",
            tuple(ids),
        )
        return {r[0]: RecallItem("document", r[0], r[1], 0.0, r[2], r[3], r[4]) for r in rows}
    # Only an answer that ended by itself: not stopped, failed, cut at the length
    # limit (where small models run away) or where it began reciting our own text,
    # and not one the app wrote.
    rows = kn.store.fetch(
        "SELECT m.id, m.content, m.conversation_id, c.title, (SELECT a.content FROM messages a"
        " WHERE a.parent_id = m.id AND a.role = 'assistant' AND a.status = 'complete'"
        " AND COALESCE(a.model, '') != 'assistant'"
        " AND COALESCE(CASE WHEN json_valid(a.stats)"
        " THEN json_extract(a.stats, '$.finish_reason') END, 'stop') = 'stop'"
        " AND NOT COALESCE(CASE WHEN json_valid(a.stats)"
        " THEN json_extract(a.stats, '$.echo_cut') END, 0)"
        " ORDER BY a.id DESC LIMIT 1) FROM messages m"
        " JOIN conversations c ON c.id = m.conversation_id"
        f" WHERE m.id IN ({marks}) AND m.role = 'user'",
        tuple(ids),
    )
    return {
        r[0]: RecallItem(
            "conversation", r[0], r[1], 0.0, conversation_id=r[2], title=r[3], answer=r[4]
        )
        for r in rows
        if r[4] and not degenerate(r[4])
    }


def degenerate(answer: str) -> bool:
    """An answer a small model got stuck in: the same lines or phrases over and over.
    Quoted into another conversation, the model copies it again."""
    lines = [" ".join(line.split()) for line in answer.splitlines() if line.strip()]
    if len(lines) >= 4 and len(set(lines)) <= len(lines) // 2:
        return True
    words = answer.lower().split()
    grams = [tuple(words[i : i + 4]) for i in range(len(words) - 3)]
    return len(grams) >= 12 and len(set(grams)) < 0.6 * len(grams)


_FTS = {
    "memory": "SELECT m.id FROM memories_fts JOIN memories m ON m.id = memories_fts.rowid"
    " WHERE memories_fts MATCH ? AND m.status = 'active' ORDER BY rank LIMIT ?",
    "document": "SELECT rowid FROM doc_chunks_fts WHERE doc_chunks_fts MATCH ? ORDER BY rank LIMIT ?",
    "conversation": "SELECT rowid FROM messages_fts WHERE messages_fts MATCH ? ORDER BY rank LIMIT ?",
}


def search(
    kn: Knowledge,
    query: str,
    kinds: tuple[str, ...] = ("memory", "document", "conversation"),
    k: int = 8,
    exclude_conversation: int | None = None,
    min_score: dict[str, float] | None = None,
) -> list[RecallItem]:
    """Hits of the given kinds, best first, each above its kind's threshold."""
    thresholds = MIN_SCORE if min_score is None else min_score
    # Memories are phrased "The user …": match them with the question in that form too.
    texts = [query, about_the_user(query)] if "memory" in kinds else [query]
    qvecs = kn.embed_queries(texts)
    kn.sync_if_changed()
    words = keywords(query)
    found: list[RecallItem] = []
    for kind in kinds:
        qvec = qvecs[-1] if kind == "memory" else qvecs[0]
        collection = _KIND_COLLECTION[kind]
        vector_ids = [i for i, _ in kn.nearest(collection, qvec, k * 2, exclude_conversation)]
        keyword_ids: list[int] = []
        fts = _discriminating(kn, kind, words)
        if fts:
            keyword_ids = [r[0] for r in kn.store.fetch(_FTS[kind], (fts, k * 2))]
        items = _hydrate(kn, kind, list(dict.fromkeys(vector_ids + keyword_ids)))
        if kind == "conversation" and exclude_conversation is not None:
            items = {i: v for i, v in items.items() if v.conversation_id != exclude_conversation}
        if not items:
            continue
        ids = list(items)
        scores = kn.cosine(collection, ids, [items[i].text for i in ids], qvec)
        bonus = set(keyword_ids)
        totals = [  # capped at 1: a score reads as a similarity
            min(1.0, s + (KEYWORD_BONUS if i in bonus else 0.0))
            for i, s in zip(ids, scores, strict=True)
        ]
        floor = max(
            thresholds.get(kind, 0.0), max(totals) - RELATIVE_CUT if min_score is None else 0.0
        )
        found += [_with_score(items[i], t) for i, t in zip(ids, totals, strict=True) if t >= floor]
    found.sort(key=lambda it: it.score, reverse=True)
    return found


# A word found in more rows than this says little about any of them, and ranking
# every row it matches is what makes keyword search slow at 100k passages.
COMMON_ROWS = 300
_FTS_TABLE = {
    "memory": "memories_fts",
    "document": "doc_chunks_fts",
    "conversation": "messages_fts",
}


def _discriminating(kn: Knowledge, kind: str, words: list[str]) -> str:
    """An FTS5 OR-query of the words (exact terms) that are rare enough to mean something."""
    table = _FTS_TABLE[kind]
    keep = []
    for w in words[:12]:
        term = '"' + w.replace('"', '""') + '"'
        n = kn.store.fetch(
            f"SELECT COUNT(*) FROM (SELECT rowid FROM {table} WHERE {table} MATCH ? LIMIT ?)",
            (term, COMMON_ROWS + 1),
        )[0][0]
        if 0 < n <= COMMON_ROWS:
            keep.append(term)
    return " OR ".join(keep)


def _with_score(item: RecallItem, score: float) -> RecallItem:
    return replace(item, score=score)


def recall(
    kn: Knowledge,
    query: str,
    conversation_id: int | None = None,
    budget_tokens: int = 600,
    documents_only: bool = False,
) -> Recall:
    """What to put in front of the model for this turn, within the budget."""
    kinds: tuple[str, ...] = ("document",) if documents_only else ("memory", "document")
    if not documents_only and kn.settings.recall_conversations:
        kinds += ("conversation",)
    picked: list[RecallItem] = []
    used = 0.0
    per_kind: dict[str, int] = {}
    seen_conversations: set[int | None] = set()
    found = search(kn, query, kinds, exclude_conversation=conversation_id)
    fresh = _is_new(kn, conversation_id)
    for item in sorted(found, key=lambda i: (PRIORITY[i.kind], -i.score)):
        if item.kind == "conversation":
            if any(p.kind != "conversation" for p in picked):
                # Memories and documents come first; an earlier answer beside them only
                # restates or contradicts them, and small models then fumble both.
                break
            if item.conversation_id in seen_conversations:
                continue
            if fresh and not _same_question(query, item):
                continue
            seen_conversations.add(item.conversation_id)
        cost = (len(item.text) + min(len(item.answer or ""), 400)) / CHARS_PER_TOKEN + 12
        if per_kind.get(item.kind, 0) >= LIMITS[item.kind] or used + cost > budget_tokens:
            continue
        picked.append(item)
        used += cost
        per_kind[item.kind] = per_kind.get(item.kind, 0) + 1
    return Recall(tuple(picked), render_context(picked, documents_only) if picked else None)


def _same_question(query: str, item: RecallItem) -> bool:
    return item.score >= SAME_QUESTION and set(keywords(query)) <= set(keywords(item.text))


def _is_new(kn: Knowledge, conversation_id: int | None) -> bool:
    """No earlier question in this conversation than the one being answered."""
    if conversation_id is None:
        return True
    rows = kn.store.fetch(
        "SELECT COUNT(*) FROM messages WHERE conversation_id = ? AND role = 'user'",
        (conversation_id,),
    )
    return rows[0][0] <= 1


FACTS_HEADER = "Facts you remember about the user, addressed to them:"
EXCERPTS_HEADER = "Excerpts from the user's documents (cite like [1] when you use them):"
DOCS_ONLY_RULE = (
    "Answer only from these excerpts of the user's documents and cite them like [1]; "
    "if they do not contain the answer, say so."
)
CONVERSATION_HEADER = "From another conversation with the user:"
USE_NOTE = "(Use this only where it helps answer the message below.)"
# What the model must never repeat as its answer (chat.echo_guards).
CONTEXT_HEADERS = (FACTS_HEADER, EXCERPTS_HEADER, DOCS_ONLY_RULE, CONVERSATION_HEADER, USE_NOTE)


def render_context(items: list[RecallItem], documents_only: bool = False) -> str:
    parts: list[str] = []
    memories = [i for i in items if i.kind == "memory"]
    docs = [i for i in items if i.kind == "document"]
    convs = [i for i in items if i.kind == "conversation"]
    if memories:
        facts = "\n".join(f"- {to_second_person(m.text)}" for m in memories)
        parts.append(FACTS_HEADER + "\n" + facts)
    if docs:
        lines = [f"[{n}] ({d.label}) {' '.join(d.text.split())}" for n, d in enumerate(docs, 1)]
        rule = DOCS_ONLY_RULE if documents_only else EXCERPTS_HEADER
        parts.append(rule + "\n" + "\n".join(lines))
    if convs:
        # Quoted, with no "You said:"-style labels: small models repeat such labels.
        lines = [
            f"- question “{' '.join(c.text.split())[:300]}”, answer given “"
            f"{' '.join((c.answer or '').split())[:400]}”"
            for c in convs
        ]
        parts.append(CONVERSATION_HEADER + "\n" + "\n".join(lines))
    return "\n\n".join(parts) + "\n\n" + USE_NOTE
