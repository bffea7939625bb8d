"""“What I know about you”: the user's long-term memories, to read, correct and forget.

Everything here is quick SQLite work on the GUI thread; no embedder is needed.
``changed`` tells the owner to bring its search index in step afterwards.
"""

from __future__ import annotations

import html
import logging
import threading
from collections.abc import Callable

from PySide6.QtCore import QEvent, Qt, QTimer, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QDialog,
    QLabel,
    QLineEdit,
    QListWidgetItem,
    QVBoxLayout,
    QWidget,
)

from assistant.core.base.errors import AssistantError
from assistant.core.memory.remember import to_third_person
from assistant.core.memory.store import Memory, MemoryStore
from assistant.ui.common.widgets import (
    EMPTY_STYLE,
    ERROR_STYLE,
    ask_yes_no,
    button_row,
    make_button,
    note,
)
from assistant.ui.dialogs.memory_list import CONV_ROLE, ID_ROLE, memory_item, memory_list, saved_on

log = logging.getLogger(__name__)

EMPTY_TEXT = "Nothing yet. Say “remember that …” in a chat, or Add one here."


class MemoryWindow(QDialog):
    changed = Signal()  # after every change: the owner re-syncs its index
    open_conversation = Signal(int)
    _meaning_found = Signal(str, list)  # query, memory ids: from the search thread

    def __init__(
        self,
        memories: MemoryStore,
        parent: QWidget | None = None,
        meaning_search: Callable[[str], list[int]] | None = None,
    ) -> None:
        super().__init__(parent)
        self.memories = memories
        # Search by meaning ("pet" finds the dog): runs off the GUI thread, after a pause.
        self._meaning_search = meaning_search
        self._meaning: dict[str, list[int]] = {}
        self._meaning_timer = QTimer(self)
        self._meaning_timer.setSingleShot(True)
        self._meaning_timer.setInterval(300)
        self._meaning_timer.timeout.connect(self._search_meaning)
        self._meaning_found.connect(self._got_meaning)
        self.setWindowTitle("What I know about you")
        self.setObjectName("memory_window")
        self.resize(620, 600)
        self._editing: int | None = None  # the memory being edited; None: adding

        self.search = QLineEdit()
        self.search.setObjectName("memory_search")
        self.search.setAccessibleName("Search memories")
        self.search.setPlaceholderText("Search what I know…")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(self.refresh)  # cheap: SQLite, no embedder
        self.search.textChanged.connect(self._meaning_timer.start)

        self.list = memory_list("memory_list", "Memories")
        self.list.itemDoubleClicked.connect(self._open_item)
        self.list.currentItemChanged.connect(self._selection_changed)
        # Widget shortcuts: the list alone would pass Enter on to the dialog.
        self._shortcut(self.list, Qt.Key.Key_Delete, self.delete_current)
        self._shortcut(self.list, Qt.Key.Key_Return, self.start_edit)
        self._shortcut(self.list, Qt.Key.Key_Enter, self.start_edit)
        self.empty = note("memory_empty", EMPTY_STYLE, EMPTY_TEXT)
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)

        # One inline editor serves Add and Edit: no modal dialog to get stuck behind.
        self.editor_label = QLabel()
        self.editor = QLineEdit()
        self.editor.setObjectName("memory_editor")
        self.editor.setAccessibleName("Memory text")
        self.editor.returnPressed.connect(self.save_editor)
        self._shortcut(self.editor, Qt.Key.Key_Escape, self.cancel_editor)  # not the window
        self.save_btn = make_button("Save", "Save this memory", self.save_editor)
        self.cancel_btn = make_button("Cancel", "Cancel (Esc)", self.cancel_editor)
        self.editor_box = QWidget()
        self.editor_box.setLayout(
            button_row(self.editor_label, self.editor, self.save_btn, self.cancel_btn, margin=0)
        )
        self.editor_box.hide()

        self.history = note("memory_history", "background: palette(alternate-base); padding: 6px")
        self.history.setAccessibleName("Earlier versions")
        self.history.setTextFormat(Qt.TextFormat.RichText)
        self.history.hide()
        self.error = note("memory_error", ERROR_STYLE)
        self.error.hide()

        b = make_button
        self.add_btn = b("Add…", "Add a memory", self.start_add)
        self.edit_btn = b("Edit…", "Correct the selected memory (Enter)", self.start_edit)
        self.history_btn = b("History", "Show earlier versions", self.show_history)
        self.open_btn = b("Open conversation", "Open the chat it came from", self.open_selected)
        self.delete_btn = b("Delete…", "Forget this memory (Delete)", self.delete_current)
        self.accept_btn = b("Accept", "Remember this", self.accept_current)
        self.reject_btn = b("Reject", "Don't remember this", self.reject_current)
        self.forget_all_btn = b("Forget everything…", "Delete every memory", self.forget_everything)
        self.close_btn = b("Close", "Close", self.close)

        self.suggested = memory_list("memory_suggested", "Suggested memories")
        self.suggested_box = QWidget()
        sug = QVBoxLayout(self.suggested_box)
        sug.setContentsMargins(0, 8, 0, 0)
        sug.addWidget(QLabel("<b>Suggested</b> — things you mentioned. Keep them?"))
        sug.addWidget(self.suggested)
        sug.addLayout(button_row(None, self.accept_btn, self.reject_btn))

        lay = QVBoxLayout(self)
        lay.addWidget(self.search)
        lay.addWidget(self.list, 1)
        lay.addWidget(self.empty, 1)
        for w in (self.history, self.editor_box):
            lay.addWidget(w)
        lay.addLayout(
            button_row(
                self.add_btn, self.edit_btn, self.history_btn, self.open_btn, None, self.delete_btn
            )
        )
        lay.addWidget(self.error)
        lay.addWidget(self.suggested_box)
        lay.addSpacing(6)
        lay.addLayout(button_row(self.forget_all_btn, None, self.close_btn))
        self.refresh()

    def _shortcut(self, widget: QWidget, key: Qt.Key, slot: Callable[[], object]) -> None:
        shortcut = QShortcut(QKeySequence(key), widget)
        shortcut.setContext(Qt.ShortcutContext.WidgetShortcut)
        shortcut.activated.connect(slot)

    # -- showing --------------------------------------------------------------

    def changeEvent(self, event: QEvent) -> None:
        # Coming back to the window: show what was saved meanwhile (a chat, the CLI).
        activated = event.type() == QEvent.Type.ActivationChange and self.isActiveWindow()
        if activated and not self.editor_box.isVisible():  # never under an open editor
            self.refresh()
        super().changeEvent(event)

    def refresh(self) -> None:
        keep = self.current_id()
        query = self.search.text().strip()
        shown = self._matching(query) if query else self.memories.list("active")
        edited = {m.superseded_by for m in self.memories.list("superseded", limit=5000)}
        self.list.clear()
        for m in shown:
            self.list.addItem(memory_item(m, m.id in edited))
            if m.id == keep:
                self.list.setCurrentRow(self.list.count() - 1)
        if self.list.currentRow() < 0 and self.list.count():
            self.list.setCurrentRow(0)
        if query and not shown:
            self.empty.setText(f"Nothing I know matches “{query}”.")
        else:
            self.empty.setText(EMPTY_TEXT)
        self.list.setVisible(bool(shown))
        self.empty.setVisible(not shown)

        self.suggested.clear()
        for m in self.memories.list("proposed"):
            self.suggested.addItem(memory_item(m, False, proposal=True))
        if self.suggested.count():
            self.suggested.setCurrentRow(0)
            rows = range(min(self.suggested.count(), 3))  # grow with the list, up to 3 rows
            height = sum(self.suggested.sizeHintForRow(i) for i in rows)
            self.suggested.setFixedHeight(height + 2 * self.suggested.frameWidth())
        self.suggested_box.setVisible(self.suggested.count() > 0)
        self.forget_all_btn.setEnabled(bool(self.memories.list(None, limit=1)))
        self._selection_changed()

    def _matching(self, query: str) -> list[Memory]:
        """Keyword hits first (ranked), then substring matches ("anut" finds peanuts), then
        matches by meaning once the search thread has them."""
        found = {m.id: m for m in self.memories.search_text(query, limit=200)}
        low = query.lower()
        active = {m.id: m for m in self.memories.list("active")}
        for m in active.values():
            if m.id not in found and low in m.text.lower():
                found[m.id] = m
        for mid in self._meaning.get(query, []):
            if mid not in found and mid in active:
                found[mid] = active[mid]
        return list(found.values())

    def _search_meaning(self) -> None:
        query = self.search.text().strip()
        if not self._meaning_search or len(query) < 3 or query in self._meaning:
            return
        search = self._meaning_search

        def run() -> None:
            try:
                ids = search(query)
            except Exception:  # keyword results are still there
                log.warning("search by meaning failed", exc_info=True)
                return
            self._meaning_found.emit(query, ids)

        threading.Thread(target=run, name="memory-search", daemon=True).start()

    def _got_meaning(self, query: str, ids: list) -> None:
        self._meaning[query] = ids
        if self.search.text().strip() == query:
            self.refresh()

    def current_id(self) -> int | None:
        item = self.list.currentItem()
        return None if item is None or self.list.isHidden() else item.data(ID_ROLE)

    def _selection_changed(self, *_: object) -> None:
        item = self.list.currentItem() if not self.list.isHidden() else None
        for b in (self.edit_btn, self.history_btn, self.delete_btn):
            b.setEnabled(item is not None)
        self.open_btn.setEnabled(item is not None and item.data(CONV_ROLE) is not None)
        if not self.history.isHidden():
            self.show_history()  # follow the selection while it is open
        has_proposal = self.suggested.currentItem() is not None
        self.accept_btn.setEnabled(has_proposal)
        self.reject_btn.setEnabled(has_proposal)

    def show_history(self) -> None:
        """The selected memory's versions, newest first, in the panel under the list."""
        mid = self.current_id()
        if mid is None:
            self.history.hide()
            return
        versions = self.memories.history(mid)
        if len(versions) == 1:
            text = f"No earlier versions (saved {saved_on(versions[0].created_at)})."
        else:
            lines = [
                f"• {'<b>now:</b> ' if i == 0 else ''}{html.escape(v.text)}"
                f" <span style='color:#767676'>({saved_on(v.created_at)})</span>"
                for i, v in enumerate(versions)
            ]
            text = "<b>Versions, newest first</b><br>" + "<br>".join(lines)
        self.history.setTextFormat(Qt.TextFormat.RichText)
        self.history.setText(text)
        self.history.show()

    # -- changing -------------------------------------------------------------

    def _changed(self) -> None:
        self.error.hide()
        self.refresh()
        self.changed.emit()

    def _fail(self, e: AssistantError) -> None:
        self.error.setText(str(e))
        self.error.show()

    def start_add(self) -> None:
        self._open_editor(None, "New memory:", "")

    def start_edit(self) -> None:
        mid = self.current_id()
        if mid is not None:
            self._open_editor(mid, "Correct it:", self.list.currentItem().text())

    def _open_editor(self, memory_id: int | None, label: str, text: str) -> None:
        self._editing = memory_id
        self.editor_label.setText(label)
        self.editor.setPlaceholderText("e.g. I live in Lyon" if memory_id is None else "")
        self.editor.setText(text)
        self.editor_box.show()
        self.editor.setFocus()
        self.editor.selectAll()

    def cancel_editor(self) -> None:
        self.editor_box.hide()
        self.editor.clear()
        self.list.setFocus()

    def save_editor(self) -> None:
        text = self.editor.text().strip()
        if not text:
            return
        try:
            if self._editing is None:
                saved = self.memories.remember(to_third_person(text))
            else:
                saved = self.memories.edit(self._editing, text)
        except AssistantError as e:
            self._fail(e)
            return
        self.cancel_editor()
        self.search.clear()  # the saved memory must be in view
        self._changed()
        self._select(saved.id)

    def _select(self, memory_id: int) -> None:
        for i in range(self.list.count()):
            if self.list.item(i).data(ID_ROLE) == memory_id:
                self.list.setCurrentRow(i)
                return

    def delete_current(self) -> None:
        item = self.list.currentItem()
        if item is None or self.list.isHidden():
            return
        if not self._confirm(f"Forget “{item.text()}”? Earlier versions go too."):
            return
        self.memories.forget(item.data(ID_ROLE))
        self._changed()

    def forget_everything(self) -> None:
        n = len(self.memories.list(None, limit=100_000))
        if n and self._confirm(f"Forget all {n} memories, suggestions and old versions?"):
            self.memories.forget_all()
            self._changed()

    def accept_current(self) -> None:
        item = self.suggested.currentItem()
        if item is not None:
            self.memories.accept(item.data(ID_ROLE))
            self._changed()

    def reject_current(self) -> None:
        item = self.suggested.currentItem()
        if item is not None:
            self.memories.reject(item.data(ID_ROLE))
            self._changed()

    def open_selected(self) -> None:
        if self.current_id() is not None:
            self._open_item(self.list.currentItem())

    def _open_item(self, item: QListWidgetItem) -> None:
        conv = item.data(CONV_ROLE)
        if conv is not None:
            self.open_conversation.emit(int(conv))

    def _confirm(self, text: str) -> bool:
        return ask_yes_no(self, "Forget", text)  # tests replace this
