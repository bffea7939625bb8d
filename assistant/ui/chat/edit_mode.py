"""Editing one of the user's messages: its text in the input, the message marked, a
note above the input; Enter sends it as a new version (the window does that), Esc
cancels."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QPlainTextEdit

from assistant.core.history.store import HistoryStore
from assistant.ui.chat.message_view import ChatView


class EditMode:
    def __init__(self, composer: QPlainTextEdit, chat: ChatView, store: HistoryStore) -> None:
        self._composer, self._chat, self._store = composer, chat, store
        self.message_id: int | None = None  # the message being edited
        self.note = QLabel("Editing a message — Enter sends it as a new version, Esc cancels")
        self.note.setStyleSheet("color: gray")
        self.note.hide()

    @property
    def active(self) -> bool:
        return self.message_id is not None

    def start(self, message_id: int) -> None:
        self.message_id = message_id
        composer = self._composer
        composer.setPlainText(self._store.get_message(message_id).content)
        composer.moveCursor(composer.textCursor().MoveOperation.End)
        for w in self._chat.messages():
            w.set_editing(w.message is not None and w.message.id == message_id)
        self.note.show()
        composer.setFocus()

    def cancel(self) -> None:
        if self.message_id is not None:
            self.message_id = None
            self._composer.clear()
            for w in self._chat.messages():
                w.set_editing(False)
        self.note.hide()

    def take(self) -> int:
        """Leave edit mode for sending: the id of the message being replaced."""
        mid = self.message_id
        assert mid is not None
        self.cancel()
        return mid
