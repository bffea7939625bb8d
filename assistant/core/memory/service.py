"""Memory as the chat uses it: remember commands, proposals, recall, documents.

One object per process, shared by the chat service, the CLI and the window.
SQLite work (saving, listing, forgetting) never needs the embedder; recall
and search open ``Knowledge`` (the embedder and the index) on first use, or
in the background when the window starts.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

from assistant.core.base.paths import Paths
from assistant.core.base.types import MemoryNotice
from assistant.core.config.settings import MemorySettings
from assistant.core.documents.store import DocumentStore, Progress, ScanReport
from assistant.core.history.store import HistoryStore
from assistant.core.memory.knowledge import Knowledge
from assistant.core.memory.recall import Recall, RecallItem, recall, search
from assistant.core.memory.remember import extract_facts, parse_remember, to_third_person
from assistant.core.memory.store import Memory, MemoryStore

log = logging.getLogger(__name__)

LOAD_WAIT_S = 120.0  # a turn waits this long at most for the embedder to load

NOT_IN_DOCUMENTS = (
    "I couldn't find anything about that in your documents, so I won't guess. "
    "Try other words, or add the document that covers it."
)
NO_DOCUMENTS = "You haven't added any documents yet. Add a file or folder first, then ask again."


class MemoryService:
    def __init__(
        self,
        store: HistoryStore,
        paths: Paths,
        settings: MemorySettings | None = None,
        knowledge: Knowledge | None = None,
        recall_only: bool = False,
    ) -> None:
        self.settings = settings or MemorySettings()
        # A one-shot question (`assistant ask`): recall searches the cached vectors
        # exactly instead of opening chromadb (about a second) for one search.
        self.recall_only = recall_only
        self.store = store
        self.memories = MemoryStore(store)
        self.documents = DocumentStore(store, self.settings.doc_max_mb * 1024 * 1024)
        self.knowledge = knowledge or Knowledge(store, paths, self.settings)
        # Told once about an index rebuilt at open or after damage (the CLI prints it;
        # the window shows it in the status bar).
        self.on_notice: Callable[[str], None] | None = None
        self.knowledge.on_repair = self._notify

    def _notify(self) -> None:
        notice = self.knowledge.take_notice()
        if notice and self.on_notice:
            self.on_notice(notice)

    def use_settings(self, settings: MemorySettings) -> None:
        """Settings changed while running (the window's Settings, the file edited)."""
        self.settings = settings
        self.knowledge.settings = settings

    def take_notice(self) -> str:
        """What opening the index had to say ("index rebuilt …"), once; or ""."""
        return self.knowledge.take_notice() or ""

    def sync_index(self) -> None:
        """After edits elsewhere (the memory window): drop forgotten facts from the index now."""
        if self.knowledge.index is not None:
            self.knowledge.sync_if_changed()

    def close(self) -> None:
        self.knowledge.close()

    # -- saving ---------------------------------------------------------------

    def remember_command(self, text: str, message_id: int | None) -> Memory | None:
        """Save the fact in a "remember that …" message; None when it is not one."""
        fact = parse_remember(text) if self.settings.enabled else None
        if fact is None:
            return None
        return self.memories.remember(to_third_person(fact), "user", message_id)

    def remember(self, text: str, message_id: int | None = None) -> Memory:
        """The Remember action and `memory add`: saved as given, first person rewritten."""
        return self.memories.remember(to_third_person(text), "user", message_id)

    def propose_from(self, text: str, message_id: int | None) -> MemoryNotice | None:
        """Facts the user stated in passing: proposed, or saved when auto-accept is on."""
        if not (self.settings.enabled and self.settings.extract):
            return None
        saved, proposed = [], []
        started = time.time()
        for fact in extract_facts(text):
            auto = self.settings.auto_accept
            m = self.memories.remember(fact, "extracted", message_id, proposed=not auto)
            if m.created_at < started:
                continue  # known, proposed or turned down before (e.g. on a regenerate)
            (saved if m.status == "active" else proposed).append((m.id, m.text))
        if not saved and not proposed:
            return None
        return MemoryNotice(saved=tuple(saved), proposed=tuple(proposed))

    # -- recall ---------------------------------------------------------------

    def has_material(self) -> bool:
        """Anything to recall at all? (Saves loading the embedder in a fresh CLI.)
        Earlier questions count when conversations are recalled."""
        row = self.store.fetch(
            "SELECT EXISTS(SELECT 1 FROM memories WHERE status = 'active')"
            " OR EXISTS(SELECT 1 FROM doc_chunks)"
            " OR (? AND EXISTS(SELECT 1 FROM messages WHERE role = 'user'))",
            (int(self.settings.recall_conversations),),
        )
        return bool(row[0][0])

    def has_documents(self) -> bool:
        return bool(self.store.fetch("SELECT EXISTS(SELECT 1 FROM doc_chunks)")[0][0])

    def open_soon(self) -> None:
        """Call before opening memory on a thread of its own: recall meanwhile searches
        the cached vectors instead of waiting for the index."""
        self.knowledge.will_open()

    def ensure_open(self) -> bool:
        kn = self.knowledge
        if kn.ready:
            return True
        if kn.open_within(LOAD_WAIT_S, self.recall_only):  # another thread may be opening it
            self._notify()
            return True
        log.warning("memory is still loading; answering without recall")
        return False

    def recall_for(
        self, query: str, conversation_id: int | None, documents_only: bool = False
    ) -> Recall | None:
        if not self.settings.enabled or self.settings.recall_budget_tokens == 0:
            return None
        if not self.knowledge.ready and not self.has_material():
            return None
        # The first question right after start searches the cached vectors exactly
        # rather than wait for the index another thread is opening.
        if not self.knowledge.search_early() and not self.ensure_open():
            return None
        return recall(
            self.knowledge,
            query,
            conversation_id,
            self.settings.recall_budget_tokens,
            documents_only,
        )

    def search(self, query: str, kinds: tuple[str, ...], k: int = 8) -> list[RecallItem]:
        self.ensure_open()
        return search(self.knowledge, query, kinds, k)[:k]

    def after_answer(self, message_ids: list[int]) -> None:
        if self.settings.enabled and self.knowledge.ready:
            try:
                self.knowledge.index_messages(message_ids)
            except Exception:  # recall of past chats is a bonus; never fail the answer
                log.warning("could not index messages %s", message_ids, exc_info=True)

    # -- documents --------------------------------------------------------------

    def add_documents(
        self,
        paths: list[Path],
        progress: Progress | None = None,
        embed_progress: Callable[[int, int], None] | None = None,
    ) -> ScanReport:
        ids = self.documents.add_sources(paths)
        report = self.documents.scan(ids, progress)
        self.index_documents(embed_progress)
        return report

    def rescan(
        self,
        progress: Progress | None = None,
        embed_progress: Callable[[int, int], None] | None = None,
    ) -> ScanReport:
        report = self.documents.scan(None, progress)
        self.index_documents(embed_progress)
        return report

    def index_documents(self, embed_progress: Callable[[int, int], None] | None = None) -> None:
        """Embed new passages now (so search works at once, owner or guest)."""
        self.ensure_open()
        kn = self.knowledge
        if kn.index is not None:
            kn.sync(embed_progress)
        else:
            rows = self.store.fetch("SELECT id, text FROM doc_chunks")
            kn.vectors([(f"c{r[0]}", r[1]) for r in rows])

    def remove_documents(self, path: Path | str) -> list[str]:
        removed = self.documents.remove(path)
        if self.knowledge.index is not None:
            self.knowledge.sync()
        return removed

    def forget_all(self) -> int:
        n = self.memories.forget_all()
        if self.knowledge.index is not None:
            self.knowledge.sync()
        return n

    def forget(self, memory_id: int) -> list[int]:
        ids = self.memories.forget(memory_id)
        if self.knowledge.index is not None:
            self.knowledge.sync()
        return ids
