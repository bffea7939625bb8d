"""The window's memory features: Remember, proposals, sources, the memory and documents windows.

SQLite edits (remember, accept, forget) happen here on the GUI thread (they
are quick); anything that embeds runs on the engine thread or a scan thread,
and the index catches up through ``EngineClient.sync_memory``.
"""

from __future__ import annotations

import html
import logging

from PySide6.QtCore import QObject, QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QToolButton, QWidget

from assistant.core.base.errors import AssistantError
from assistant.core.base.types import MemoryNotice
from assistant.core.memory.remember import to_third_person
from assistant.core.memory.store import MemoryStore
from assistant.ui.dialogs.documents_window import DocumentsWindow
from assistant.ui.dialogs.memory_window import MemoryWindow
from assistant.ui.services.engine_client import Answer
from assistant.ui.services.parts import AppServices

log = logging.getLogger(__name__)


def sources_html(items: list[dict]) -> str:
    """ "Sources: [1] guide.pdf, page 3 · 2 memories" with links the window understands."""
    parts = []
    docs = [i for i in items if i.get("kind") == "document"]
    for n, d in enumerate(docs, 1):
        url = QUrl.fromLocalFile(d.get("path", "")).toString()
        parts.append(f"<a href='{html.escape(url)}'>[{n}] {html.escape(d['label'])}</a>")
    n_mem = sum(i.get("kind") == "memory" for i in items)
    if n_mem:
        word = "memory" if n_mem == 1 else "memories"
        parts.append(f"<a href='memory:'>{n_mem} {word}</a>")
    for c in [i for i in items if i.get("kind") == "conversation"][:3]:
        parts.append(
            f"<a href='conversation:{c.get('conversation_id')}'>{html.escape(c['label'])}</a>"
        )
    return "Used: " + " · ".join(parts) if parts else ""


class ProposalBar(QWidget):
    """ "Remember that …?" with Save / Not now, one proposal at a time."""

    def __init__(self, actions: MemoryActions) -> None:
        super().__init__()
        self.actions = actions
        self.pending: list[tuple[int, str]] = []
        lay = QHBoxLayout(self)
        lay.setContentsMargins(8, 4, 8, 4)
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.save_btn = QPushButton("Remember")
        self.save_btn.setAccessibleName("Remember this fact")
        self.skip_btn = QPushButton("Not now")
        self.skip_btn.setAccessibleName("Do not remember this fact")
        lay.addWidget(self.label, 1)
        lay.addWidget(self.save_btn)
        lay.addWidget(self.skip_btn)
        self.save_btn.clicked.connect(self.accept)
        self.skip_btn.clicked.connect(self.reject)
        self.setStyleSheet("background: palette(alternate-base)")
        self.hide()

    def add(self, proposals: list[tuple[int, str]]) -> None:
        known = {i for i, _ in self.pending}
        self.pending += [p for p in proposals if p[0] not in known]
        self._show_next()

    def _show_next(self) -> None:
        if not self.pending:
            self.hide()
            return
        _, text = self.pending[0]
        more = f" (+{len(self.pending) - 1} more)" if len(self.pending) > 1 else ""
        self.label.setText(f"Remember this? “{html.escape(text)}”{more}")
        self.show()

    def accept(self) -> None:
        if self.pending:
            mid, text = self.pending.pop(0)
            self.actions.accept(mid, text)
        self._show_next()

    def reject(self) -> None:
        """Not now: it stays a suggestion in the memory window, where it can still be saved."""
        if self.pending:
            self.pending.pop(0)
            self.actions.messages.info(
                "Kept as a suggestion: Memory → What I know about you.", 6000
            )
        self._show_next()


class MemoryActions(QObject):
    """Lives on the GUI thread; the window hands it each answer it shows (``watch``)."""

    open_conversation_requested = Signal(int)
    sources_ready = Signal(list)  # recalled items for the answer the window is showing

    def __init__(self, services: AppServices, parent: QWidget) -> None:
        super().__init__(parent)
        self._parent = parent
        self.messages, self._engine, self._memory = (
            services.messages,
            services.engine,
            services.memory,
        )
        self._store = services.store
        self.memories = MemoryStore(services.store)  # the window's own connection
        self.proposals = ProposalBar(self)
        self.docs_btn = QToolButton()
        self.docs_btn.setText("Documents only")
        self.docs_btn.setCheckable(True)
        self.docs_btn.setStyleSheet(  # on or off must be obvious at a glance
            "QToolButton:checked { background: palette(highlight); color: palette(highlighted-text); }"
        )
        self.docs_btn.setAccessibleName("Answer only from my documents")
        self.docs_btn.setToolTip(
            "Answer only from your documents, with sources — and say so when they "
            "don't cover the question (Ctrl+D)"
        )
        self._memory_window: MemoryWindow | None = None
        self._documents_window: DocumentsWindow | None = None
        self._engine.memory_ready.connect(self._ready)
        self._engine.index_notice.connect(self._ready)
        self._engine.memory_failed.connect(self._failed)

    @property
    def documents_only(self) -> bool:
        return self.docs_btn.isChecked()

    def watch(self, answer: Answer) -> None:
        """The answer the window shows: its sources and the facts it saved or proposes."""
        answer.recalled.connect(self.sources_ready.emit)
        answer.memory_notice.connect(self.notice)

    def _ready(self, notice: str) -> None:
        if notice:
            self.messages.info(notice, 10000)

    def _failed(self, message: str) -> None:
        self.messages.show_banner(f"{message}\nChat works without memory meanwhile.", "memory")

    # -- from the chat -----------------------------------------------------------

    def remember_message(self, message_id: int) -> None:
        """The Remember button on a message: save its text as a memory, with provenance."""
        try:
            m = self._store.get_message(message_id)
            if m.role == "user" and m.content.strip().endswith("?"):
                self.messages.info(
                    "That is a question, not something to remember. "
                    "Add facts in Memory → What I know about you.",
                    8000,
                )
                return
            text = m.content if m.role == "assistant" else to_third_person(m.content)
            saved = self.memories.remember(text, "user", message_id)
        except AssistantError as e:
            self.messages.info(str(e), 8000)
            return
        self.messages.info(f"Saved to memory: {saved.text}", 6000)
        self.changed()

    def notice(self, notice: MemoryNotice) -> None:
        if notice.problem:
            self.messages.info(notice.problem, 15000)
        if notice.saved:
            self.messages.info(f"Saved to memory: {notice.saved[0][1]}", 6000)
            self.changed()
        if notice.proposed:
            self.proposals.add(list(notice.proposed))

    def accept(self, memory_id: int, text: str) -> None:
        try:
            self.memories.accept(memory_id)
        except AssistantError as e:  # deleted in the meantime
            self.messages.info(str(e), 6000)
            return
        self.messages.info(f"Saved to memory: {text}", 6000)
        self.changed()

    def changed(self) -> None:
        self._engine.sync_memory()
        if self._memory_window is not None and self._memory_window.isVisible():
            self._memory_window.refresh()

    def open_source(self, url: QUrl) -> None:
        if url.scheme() == "memory":
            self.open_memory_window()
        elif url.scheme() == "conversation" and url.path().isdigit():
            self.open_conversation_requested.emit(int(url.path()))
        elif url.isLocalFile() and not QDesktopServices.openUrl(url):
            self.messages.info(f"Could not open {url.toLocalFile()}", 8000)

    # -- windows -----------------------------------------------------------------

    def open_memory_window(self) -> None:
        if self._memory_window is None:
            self._memory_window = MemoryWindow(self.memories, self._parent, self._search_by_meaning)
            self._memory_window.changed.connect(self._engine.sync_memory)
            self._memory_window.open_conversation.connect(self.open_conversation_requested.emit)
        self._memory_window.refresh()
        self._memory_window.show()
        self._memory_window.raise_()
        self._memory_window.activateWindow()

    def _search_by_meaning(self, query: str) -> list[int]:
        """For the memory window's search thread; nothing until memory has loaded."""
        from assistant.core.memory.recall import search

        svc = self._memory
        if not svc.knowledge.ready:
            return []
        # A looser threshold than recall's: here the user reads the list and picks.
        hits = search(svc.knowledge, query, ("memory",), k=10, min_score={"memory": 0.25})
        return [i.id for i in hits]

    def open_documents_window(self) -> None:
        if self._documents_window is None:
            self._documents_window = DocumentsWindow(self._memory, self._parent)
        self._documents_window.refresh()
        self._documents_window.show()
        self._documents_window.raise_()
        self._documents_window.activateWindow()
