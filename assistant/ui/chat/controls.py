"""The window's controls around the chat: the button row under the composer (which
buttons show while an answer streams), the banner above the chat, and the read-ahead
while the user types."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QLabel, QPushButton

from assistant.ui.chat.composer import Composer
from assistant.ui.chat.message_view import MessageWidget
from assistant.ui.common.message import Messages
from assistant.ui.services.engine_client import EngineClient


def _button(text: str, name: str) -> QPushButton:
    b = QPushButton(text)
    b.setAccessibleName(name)
    b.setToolTip(name)
    return b


class ChatButtons:
    """Send / Stop / Regenerate / Persona; the window connects them."""

    def __init__(self) -> None:
        self.send = _button("Send", "Send")
        self.stop = _button("Stop", "Stop the answer (Esc)")
        self.stop.hide()
        self.regenerate = _button("Regenerate", "Regenerate the last answer (Ctrl+R)")
        self.persona = _button("Persona", "Edit this conversation's persona")

    def update(self, busy: bool, widgets: list[MessageWidget]) -> None:
        """While an answer streams only Stop; otherwise Send, and Regenerate (on the row
        and on the last answer) once there is a question to answer again."""
        self.stop.setVisible(busy)
        self.send.setVisible(not busy)
        can_regen = not busy and any(w.role == "user" for w in widgets)
        self.regenerate.setEnabled(can_regen)
        for w in widgets:
            w.edit_btn.setEnabled(not busy)
            w.regen_btn.setVisible(False)
        if widgets and widgets[-1].role == "assistant" and can_regen:
            widgets[-1].regen_btn.setVisible(True)


class Banner(QLabel):
    """The newest of the app's banners (a model that did not load, memory unavailable,
    a refused model choice …) above the chat, until one is cleared."""

    def __init__(self, messages: Messages) -> None:
        super().__init__()
        self.setWordWrap(True)
        self.setStyleSheet("background:#fdecea; color:#611a15; padding:8px")
        self.hide()
        messages.banner.connect(self._show)
        messages.banner_cleared.connect(lambda _kind: self.hide())

    def _show(self, text: str, _kind: str) -> None:
        self.setText(text)
        self.show()


class ReadAhead(QObject):
    """A pause in typing lets the engine read the conversation plus the draft so far, so
    sending it costs only the last few tokens. ``target`` names the conversation to read
    ahead in, or None while that makes no sense (an answer streams, an edit is open)."""

    PAUSE_MS = 400
    MIN_CHARS = 8

    def __init__(
        self,
        composer: Composer,
        engine: EngineClient,
        target: Callable[[], int | None],
        parent: QObject,
    ) -> None:
        super().__init__(parent)
        self._composer, self._engine, self._target = composer, engine, target
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(self.PAUSE_MS)
        self._timer.timeout.connect(self._read)
        composer.textChanged.connect(self._timer.start)

    def _read(self) -> None:
        text = self._composer.toPlainText().strip()
        conversation = self._target()
        if len(text) >= self.MIN_CHARS and conversation is not None and self._engine.model_info:
            self._engine.prefill(conversation, text)
