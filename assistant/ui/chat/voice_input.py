"""Push-to-talk in the window: hold the mic button or Ctrl+Space, speak, let go.

The view only: the microphone and the speech model are the app's shared
``PushToTalk``; this puts its text into the composer and shows its state.
"""

from __future__ import annotations

import logging
import time

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QPlainTextEdit, QToolButton, QWidget

from assistant.ui.common.widgets import level_meter, meter_value
from assistant.ui.services.parts import AppServices

log = logging.getLogger(__name__)

IDLE_TEXT = "Hold to talk (Ctrl+Space)"


class VoiceInput(QObject):
    """Push-to-talk for ``window``: the text goes into ``composer``; with "send at once"
    (voice.send_on_release) it is also handed on as ``submit_requested``."""

    submit_requested = Signal(str)

    def __init__(self, window: QWidget, composer: QPlainTextEdit, services: AppServices) -> None:
        super().__init__(window)
        self._composer, self._live, self._messages = composer, services.live, services.messages
        self.ptt = ptt = services.ptt
        self.button = QToolButton()
        self.button.setText(IDLE_TEXT)
        self.button.setAccessibleName("Hold to talk (Ctrl+Space)")
        self.button.setToolTip("Hold to talk, or hold Ctrl+Space; the text goes into the input")
        self.button.pressed.connect(self.press)
        self.button.released.connect(self.release)
        # Qt emits no `released` when the mouse comes up off the button: catch that too.
        self.button.installEventFilter(self)
        # A level meter while listening, so the user sees the microphone hears them.
        self.meter = level_meter()
        self._meter_timer = QTimer(self)
        self._meter_timer.setInterval(50)
        self._meter_timer.timeout.connect(self._show_level)
        ptt.partial.connect(self._show_partial)
        ptt.final.connect(self._got_final)
        ptt.failed.connect(self._show_failure)
        ptt.state.connect(self._show_state)
        self._held = False
        # Holding a key makes X11 repeat release+press pairs; a release only counts
        # when no press follows within this time.
        self._release_timer = QTimer(self)
        self._release_timer.setSingleShot(True)
        self._release_timer.setInterval(120)
        self._release_timer.timeout.connect(self.release)
        self.last_text = ""
        self._let_go_at = 0.0  # time.monotonic() when the key or button was let go
        composer.installEventFilter(self)
        window.installEventFilter(self)

    # -- keys ----------------------------------------------------------------

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        kind = event.type()
        if obj is self.button and kind == QEvent.Type.MouseButtonRelease and self._held:
            QTimer.singleShot(0, self.release)  # after the button's own handling
            return super().eventFilter(obj, event)
        if kind not in (QEvent.Type.KeyPress, QEvent.Type.KeyRelease):
            return super().eventFilter(obj, event)
        assert isinstance(event, QKeyEvent)
        if event.key() != Qt.Key.Key_Space:
            return super().eventFilter(obj, event)
        mods = event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier
        ctrl = mods == Qt.KeyboardModifier.ControlModifier  # not Ctrl+Alt+Space and the like
        if kind == QEvent.Type.KeyPress and (ctrl or self._held):
            self._release_timer.stop()  # a repeat, not a new press: keep listening
            self._let_go_at = 0.0
            if not self._held:
                self.press()
            return True
        if kind == QEvent.Type.KeyRelease and self._held:
            if not event.isAutoRepeat():
                self._let_go_at = time.monotonic()
                self._release_timer.start()  # let go, unless a repeated press follows
            return True
        return super().eventFilter(obj, event)

    # -- press / release -------------------------------------------------------

    def press(self) -> None:
        if self._held:
            return
        if not self.ptt.press(self):
            self._messages.info("Still transcribing the last recording…", 3000)
            return
        self._messages.hide_banner("voice")
        self._held = True
        self._let_go_at = 0.0
        self.button.setDown(True)  # same text and size: the mouse stays on the button
        self._messages.info("Opening the microphone…", 0)
        self.meter.setValue(0)
        self.meter.show()
        self._meter_timer.start()

    def release(self) -> None:
        if not self._held:
            return
        if self._release_timer.isActive() or not self._let_go_at:
            self._let_go_at = time.monotonic()  # the mouse, or a direct call
        self._release_timer.stop()
        self._held = False
        self._meter_timer.stop()
        self.meter.hide()
        self.button.setDown(False)
        if self.ptt.release():
            self.button.setEnabled(False)  # until the text is in
            self._messages.info("Transcribing…", 0)

    # -- results (GUI thread) ----------------------------------------------------

    def _show_level(self) -> None:
        self.meter.setValue(meter_value(self.ptt.level))

    def _show_state(self, state: str) -> None:
        if not self._held or self.ptt.owner is not self:
            return
        if state == "loading":
            self._messages.info("Loading the speech model (first use)… keep holding.", 0)
        elif state == "recording":
            self._messages.info("Listening… let go to finish.", 0)

    def _show_partial(self, text: str) -> None:
        if self._held and text and self.ptt.owner is self:
            self._messages.info(f"Listening… {text}", 0)

    def _got_final(self, text: str, _latency: float, _duration: float) -> None:
        if self.ptt.owner is not self:
            return
        self.button.setEnabled(True)
        self.last_text = text
        if not text:
            self._messages.info("Nothing was heard. Hold the key while you speak.", 5000)
            return
        # What the user waited: from letting go (before the key-repeat check) to the
        # text in the box, not just the transcriber's share.
        waited = time.monotonic() - self._let_go_at if self._let_go_at else 0.0
        self._messages.info(f"Transcribed in {waited:.2f} s after release.", 4000)
        composer = self._composer
        current = composer.toPlainText()
        composer.setPlainText(f"{current} {text}".strip() if current else text)
        composer.moveCursor(composer.textCursor().MoveOperation.End)
        composer.setFocus()
        if self._live.current.voice.send_on_release:
            self.submit_requested.emit(composer.toPlainText().strip())

    def _show_failure(self, message: str) -> None:
        if self.ptt.owner is not self:
            return
        self._held = False
        self._meter_timer.stop()
        self.meter.hide()
        self.button.setDown(False)
        self.button.setEnabled(True)
        self._messages.info("", 0)
        # The banner wraps long reasons; the status bar would cut them off.
        self._messages.show_banner(message, "voice")

    def close(self) -> None:
        self._meter_timer.stop()
