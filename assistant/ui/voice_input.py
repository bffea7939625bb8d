"""Push-to-talk in the window: hold the mic button or Ctrl+Space, speak, let go.

The microphone and Whisper work on plain Python threads; results come back as
signals to bound methods of this QObject, so widgets are only touched on the
GUI thread. The microphone stays open after the first use so that the next
press has its pre-roll (the words said just before the key went down).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QProgressBar, QToolButton

from assistant.core.errors import AssistantError

if TYPE_CHECKING:
    from assistant.ui.main_window import MainWindow

log = logging.getLogger(__name__)

IDLE_TEXT = "Hold to talk (Ctrl+Space)"


class VoiceInput(QObject):
    _partial = Signal(str)
    _final = Signal(str, float, float)  # text, seconds from release to text, seconds of audio
    _failed = Signal(str)

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.w = window
        self.button = QToolButton()
        self.button.setText(IDLE_TEXT)
        self.button.setAccessibleName("Hold to talk (Ctrl+Space)")
        self.button.setToolTip("Hold to talk, or hold Ctrl+Space; the text goes into the input")
        self.button.pressed.connect(self.press)
        self.button.released.connect(self.release)
        # Qt emits no `released` when the mouse comes up off the button: catch that too.
        self.button.installEventFilter(self)
        # A level meter while listening, so the user sees the microphone hears them.
        self.meter = QProgressBar()
        self.meter.setRange(0, 100)
        self.meter.setTextVisible(False)
        self.meter.setFixedWidth(60)
        self.meter.setAccessibleName("Microphone level")
        self.meter.hide()
        self._meter_timer = QTimer(self)
        self._meter_timer.setInterval(50)
        self._meter_timer.timeout.connect(self._show_level)
        self._partial.connect(self._show_partial)
        self._final.connect(self._got_final)
        self._failed.connect(self._show_failure)
        self._held = False
        self._pressed_at = 0.0
        self._ready = threading.Event()  # the press thread has the recording running
        self._idle = threading.Event()  # no recording or transcription in progress
        self._idle.set()
        # Holding a key makes X11 repeat release+press pairs; a release only counts
        # when no press follows within this time.
        self._release_timer = QTimer(self)
        self._release_timer.setSingleShot(True)
        self._release_timer.setInterval(120)
        self._release_timer.timeout.connect(self.release)
        self._transcriber = None
        self._load_lock = threading.Lock()  # the preload and a first press share one model
        self._preloading = False
        self._recorder = None
        self._recorder_settings: tuple = ()
        self._dictation = None
        self.last_text = ""
        window.composer.installEventFilter(self)
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
        ctrl = bool(event.modifiers() & Qt.KeyboardModifier.ControlModifier)
        if kind == QEvent.Type.KeyPress and (ctrl or self._held):
            self._release_timer.stop()  # a repeat, not a new press: keep listening
            if not self._held:
                self.press()
            return True
        if kind == QEvent.Type.KeyRelease and self._held:
            if not event.isAutoRepeat():
                self._release_timer.start()  # let go, unless a repeated press follows
            return True
        return super().eventFilter(obj, event)

    # -- press / release -------------------------------------------------------

    def press(self) -> None:
        if self._held:
            return
        if not self._idle.is_set():
            self.w.statusBar().showMessage("Still transcribing the last recording…", 3000)
            return
        self._idle.clear()  # one recording at a time, start to finish
        self.w.hide_banner("voice")
        self._held = True
        self._pressed_at = time.monotonic()
        self._ready.clear()
        self.button.setDown(True)  # same text and size: the mouse stays on the button
        self.w.statusBar().showMessage("Listening… let go to finish.")
        self.meter.setValue(0)
        self.meter.show()
        self._meter_timer.start()
        threading.Thread(target=self._start, name="ptt-press", daemon=True).start()

    def preload(self) -> None:
        """Load the speech model in the background so the first press is instant."""
        if self._preloading:
            return
        self._preloading = True
        threading.Thread(target=self._preload, name="ptt-preload", daemon=True).start()

    def _preload(self) -> None:
        try:
            self._load_transcriber()
        except Exception as e:  # reported again, in full, when the user presses the key
            log.info("speech model not preloaded: %s", e)

    def _load_transcriber(self):  # -> Transcriber
        from assistant.core.transcriber import Transcriber

        voice = self.w.settings.voice
        with self._load_lock:
            t = self._transcriber
            if t is None or (t.settings.model, t.settings.device) != (voice.model, voice.device):
                self._transcriber = t = Transcriber(voice)
            t.settings = voice  # language and the rest apply without a reload
            t.load()
            return self._transcriber

    def _start(self) -> None:
        from assistant.core.audio_capture import Recorder
        from assistant.core.dictation import Dictation

        voice = self.w.settings.voice
        try:
            transcriber = self._load_transcriber()
            wanted = (voice.input_device, voice.pre_roll_ms, voice.max_seconds)
            if self._recorder is None or self._recorder_settings != wanted:
                if self._recorder is not None:
                    self._recorder.disarm()  # another microphone was picked in settings
                self._recorder = Recorder(
                    voice.input_device, voice.pre_roll_ms / 1000, voice.max_seconds
                )
                self._recorder_settings = wanted
            self._dictation = Dictation(transcriber, self._recorder, self._partial.emit)
            self._dictation.press()
        except AssistantError as e:
            self._dictation = None
            self._failed.emit(str(e))
        except Exception as e:  # never let voice take the window down
            log.exception("push-to-talk failed to start")
            self._dictation = None
            self._failed.emit(f"Voice input failed: {type(e).__name__}: {e}.")
        finally:
            self._ready.set()
            if self._dictation is None:
                self._idle.set()

    def release(self) -> None:
        if not self._held:
            return
        self._held = False
        self._meter_timer.stop()
        self.meter.hide()
        self.button.setDown(False)
        self.button.setEnabled(False)  # until the text is in
        self.w.statusBar().showMessage("Transcribing…")
        threading.Thread(target=self._finish, name="ptt-release", daemon=True).start()

    def _finish(self) -> None:
        self._ready.wait()
        dictation = self._dictation
        try:
            if dictation is None:
                return  # the failure was reported
            result = dictation.release()
            t = result.transcript
            self._final.emit(t.text, result.release_to_text_s, t.duration)
            dictation.finish()
        except Exception as e:
            log.exception("transcription failed")
            self._failed.emit(f"Transcription failed: {type(e).__name__}: {e}.")
        finally:
            self._idle.set()

    # -- results (GUI thread) ----------------------------------------------------

    def _show_level(self) -> None:
        rec = self._recorder
        level = rec.level if rec is not None else 0.0
        self.meter.setValue(min(100, int(level * 400)))  # speech RMS ~0.05-0.25

    def _show_partial(self, text: str) -> None:
        if self._held and text:
            self.w.statusBar().showMessage(f"Listening… {text}")

    def _got_final(self, text: str, latency: float, duration: float) -> None:
        self.button.setEnabled(True)
        self.last_text = text
        rec = self._recorder
        silent_device = rec is not None and rec.last_block_at < self._pressed_at
        if not text and (duration == 0 or silent_device) and rec is not None:
            # Not one sample: the device went away or is muted. Reopen it next time,
            # so a real error can surface then.
            rec.disarm()
            self.w.statusBar().clearMessage()
            self.w.show_banner(
                "The microphone sent no sound. Check that it is connected and not muted "
                "(voice.input_device in settings picks another one).",
                "voice",
            )
            return
        if not text:
            self.w.statusBar().showMessage("Nothing was heard. Hold the key while you speak.", 5000)
            return
        self.w.statusBar().showMessage(f"Transcribed in {latency:.2f} s after release.", 4000)
        composer = self.w.composer
        current = composer.toPlainText()
        composer.setPlainText(f"{current} {text}".strip() if current else text)
        composer.moveCursor(composer.textCursor().MoveOperation.End)
        composer.setFocus()
        if self.w.settings.voice.send_on_release:
            self.w.submit(composer.toPlainText().strip())

    def _show_failure(self, message: str) -> None:
        self._held = False
        self._meter_timer.stop()
        self.meter.hide()
        self.button.setDown(False)
        self.button.setEnabled(True)
        self.w.statusBar().clearMessage()
        # The banner wraps long reasons; the status bar would cut them off.
        self.w.show_banner(message, "voice")

    def close(self) -> None:
        self._meter_timer.stop()
        if self._dictation is not None:
            if self._held:
                self._dictation.cancel()
            self._dictation.finish()
        if self._recorder is not None:
            self._recorder.disarm()
