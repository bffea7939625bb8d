"""Conversation list: new, search (titles and content), rename, pin, delete."""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QInputDialog,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from assistant.core.history.store import HistoryStore

ID_ROLE = Qt.ItemDataRole.UserRole
MESSAGE_ROLE = Qt.ItemDataRole.UserRole + 1


class Sidebar(QWidget):
    selected = Signal(int, int)  # conversation id, message id to show (0: none)
    new_requested = Signal()
    deleted = Signal(int)

    def __init__(self, store: HistoryStore, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.store = store
        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 6, 6, 6)
        self.new_btn = QPushButton("New chat")
        self.new_btn.setAccessibleName("New chat")
        self.new_btn.setToolTip("New chat (Ctrl+N)")
        self.new_btn.clicked.connect(self.new_requested.emit)
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search conversations (Ctrl+F)")
        self.search.setAccessibleName("Search conversations")
        self.search.setClearButtonEnabled(True)
        self.list = QListWidget()
        self.list.setAccessibleName("Conversations")
        self.list.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.list.setWordWrap(False)
        self.list.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.list.customContextMenuRequested.connect(self._menu)
        self.list.itemActivated.connect(self._pick)
        self.list.itemClicked.connect(self._pick)
        lay.addWidget(self.new_btn)
        lay.addWidget(self.search)
        lay.addWidget(self.list, 1)
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(150)
        self._debounce.timeout.connect(self.refresh)
        self.search.textChanged.connect(lambda _t: self._debounce.start())
        self._current: int | None = None

    def refresh(self) -> None:
        query = self.search.text().strip()
        self.list.clear()
        if query:
            seen: set[int] = set()
            for hit in self.store.search(query, limit=50, marks=("", "")):
                if hit.conversation_id in seen:
                    continue
                seen.add(hit.conversation_id)
                snippet = " ".join(hit.snippet.split()) if hit.message_id else ""
                self._add(
                    hit.conversation_id, hit.conversation_title, snippet, False, hit.message_id
                )
            return
        for c in self.store.list_conversations(limit=500):
            self._add(c.id, c.title, "", c.pinned)

    def _add(self, cid: int, title: str, snippet: str, pinned: bool, message_id: int = 0) -> None:
        text = ("★ " if pinned else "") + (title or "New conversation")
        item = QListWidgetItem(text + (f"\n{snippet}" if snippet else ""))
        item.setData(ID_ROLE, cid)
        item.setData(MESSAGE_ROLE, message_id)
        item.setToolTip(title)
        self.list.addItem(item)
        if cid == self._current:
            self.list.setCurrentItem(item)

    def mark_current(self, cid: int | None) -> None:
        self._current = cid
        for i in range(self.list.count()):
            item = self.list.item(i)
            if item.data(ID_ROLE) == cid:
                self.list.setCurrentItem(item)
                return
        self.list.clearSelection()

    def _pick(self, item: QListWidgetItem) -> None:
        cid = item.data(ID_ROLE)
        message_id = item.data(MESSAGE_ROLE) or 0
        if cid is not None and (cid != self._current or message_id):
            self.selected.emit(cid, message_id)

    def _menu(self, pos) -> None:
        item = self.list.itemAt(pos)
        if item is None:
            return
        cid = item.data(ID_ROLE)
        conv = self.store.get_conversation(cid)
        menu = QMenu(self)
        menu.addAction("Rename…", lambda: self.rename(cid))
        menu.addAction("Unpin" if conv.pinned else "Pin", lambda: self.toggle_pin(cid))
        menu.addSeparator()
        menu.addAction("Delete…", lambda: self.delete(cid))
        menu.exec(self.list.mapToGlobal(pos))
        self.mark_current(self._current)  # the right-click selected it; the open one stays

    def rename(self, cid: int) -> None:
        conv = self.store.get_conversation(cid)
        title, ok = QInputDialog.getText(self, "Rename conversation", "Title:", text=conv.title)
        if ok and title.strip():
            self.store.update_conversation(cid, title=title.strip())
            self.refresh()

    def toggle_pin(self, cid: int) -> None:
        conv = self.store.get_conversation(cid)
        self.store.update_conversation(cid, pinned=not conv.pinned)
        self.refresh()

    def delete(self, cid: int, confirm: bool = True) -> None:
        conv = self.store.get_conversation(cid)
        if confirm:
            answer = QMessageBox.question(
                self,
                "Delete conversation",
                f"Delete “{conv.title or 'New conversation'}”? This cannot be undone.",
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                QMessageBox.StandardButton.No,
            )
            if answer != QMessageBox.StandardButton.Yes:
                return
        self.store.delete_conversation(cid)
        self.deleted.emit(cid)
        self.refresh()
