"""Push-to-talk, without widgets: one microphone and one speech model for the
whole app, shared by the window's button, its Ctrl+Space and the global hotkey.

The microphone and Whisper work on plain Python threads; results come back as
signals (queued onto the GUI thread for bound methods of QObjects). The
microphone stays open after the first use so that the next press has its
pre-roll (the words said just before the key went down). ``owner`` says who
pressed, so only that view takes the text.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Signal

from assistant.core.base.cpu_threads import run_in_background
from assistant.core.base.errors import failure_text
from assistant.core.config.settings import VoiceSettings

if TYPE_CHECKING:  # imported where used: their libraries load off the GUI thread
    from assistant.core.voice.capture import Recorder
    from assistant.core.voice.transcriber import Transcriber

log = logging.getLogger(__name__)

SILENT_MIC = (
    "The microphone sent no sound. Check that it is connected and not muted "
    "(voice.input_device in settings picks another one)."
)


class PushToTalk(QObject):
    partial = Signal(str)
    final = Signal(str, float, float)  # text, seconds from release to text, seconds of audio
    failed = Signal(str)  # a one-line reason; the press is over
    # "listening" (pressed), "loading" (the speech model, first press only),
    # "recording" (the microphone runs), "transcribing", "idle"
    state = Signal(str)

    def __init__(self, voice_settings: Callable[[], VoiceSettings], parent: QObject | None = None):
        super().__init__(parent)
        self._settings = voice_settings
        self.owner: object = None
        self.held = False
        self._pressed_at = 0.0
        self._ready = threading.Event()  # the press thread has the recording running
        self.idle = threading.Event()  # no recording or transcription in progress
        self.idle.set()
        self._transcriber: Any = None
        self._load_lock = threading.Lock()  # the preload and a first press share one model
        self._mic_lock = threading.Lock()  # apart: the microphone never waits for the model
        self._preloading = False
        self._recorder: Any = None
        self._recorder_settings: tuple = ()
        self._dictation: Any = None
        self._close_after = False
        self._closed = False  # the app is quitting: a late preload must not open the mic
        self._preload_thread: threading.Thread | None = None
        self._mic_opening = False

    @property
    def level(self) -> float:
        rec = self._recorder
        return rec.level if rec is not None and self.held else 0.0

    @property
    def model_loaded(self) -> bool:
        return self._transcriber is not None and self._transcriber._model is not None

    # -- the microphone and the speech model -----------------------------------

    def open_microphone(self) -> None:
        """Open the microphone at start (voice.keep_microphone_open), beside the models:
        a fresh input stream delivers nothing for a second or two, and the words said
        then are lost, so it must not wait for anything else."""
        if self._mic_opening or self._closed or not self._settings().keep_microphone_open:
            return
        self._mic_opening = True
        threading.Thread(target=self._open_microphone, name="ptt-mic", daemon=True).start()

    def _open_microphone(self) -> None:
        try:
            recorder = self._recorder_for(self._settings())
            recorder.arm()
            if self._closed:  # closed while it opened
                recorder.disarm()
        except Exception as e:  # reported in full when the user presses the key
            log.info("microphone not opened at start: %s", e)

    def preload(self) -> None:
        """Load the speech model in the background so the first press is instant."""
        if self._preloading or self._closed:
            return
        self._preloading = True
        self._preload_thread = threading.Thread(
            target=self._preload, name="ptt-preload", daemon=True
        )
        self._preload_thread.start()

    def _preload(self) -> None:
        run_in_background()  # behind a first answer; its worker threads inherit this
        try:
            transcriber = self._load_transcriber()
            # The first pass pays one-time costs (the VAD model, CTranslate2's first
            # run): pay them now, not while the user holds the key.
            import numpy as np

            if self._closed:
                return
            transcriber.transcribe(np.zeros(8000, np.float32))
            noise = np.random.default_rng(0).normal(0, 0.003, 24000).astype(np.float32)
            transcriber.transcribe(noise)
            if self._settings().keep_microphone_open and not self._closed:
                # A freshly opened input stream can take a second or two to deliver
                # (PulseAudio); opened now, the first press keeps its first words.
                recorder = self._recorder_for(self._settings())
                recorder.arm()
                if self._closed:  # closed while it opened
                    recorder.disarm()
        except Exception as e:  # reported again, in full, when the user presses the key
            log.info("push-to-talk not preloaded: %s", e)

    def _recorder_for(self, voice: VoiceSettings) -> Recorder:
        from assistant.core.voice.capture import Recorder

        with self._mic_lock:
            wanted = (voice.input_device, voice.pre_roll_ms, voice.max_seconds)
            if self._recorder is None or self._recorder_settings != wanted:
                if self._recorder is not None:
                    self._recorder.disarm()  # another microphone was picked in settings
                self._recorder = Recorder(
                    voice.input_device, voice.pre_roll_ms / 1000, voice.max_seconds
                )
                self._recorder_settings = wanted
            return self._recorder

    def _load_transcriber(self) -> Transcriber:
        from assistant.core.voice.transcriber import Transcriber

        voice = self._settings()
        with self._load_lock:
            t = self._transcriber
            if t is None or (t.settings.model, t.settings.device) != (voice.model, voice.device):
                self._transcriber = t = Transcriber(voice)
            t.settings = voice  # language and the rest apply without a reload
            t.load()
            return t

    # -- press / release ---------------------------------------------------------

    def press(self, owner: object) -> bool:
        """Start listening for ``owner``; False when a recording is still in progress."""
        if self.held or not self.idle.is_set():
            return False
        self.idle.clear()  # one recording at a time, start to finish
        self.owner = owner
        self.held = True
        self._pressed_at = time.monotonic()
        self._ready.clear()
        self.state.emit("listening")
        threading.Thread(target=self._start, name="ptt-press", daemon=True).start()
        return True

    def _start(self) -> None:
        from assistant.core.voice.dictation import Dictation

        voice = self._settings()
        recorder = None
        try:
            # Record first, then wait for the speech model if it is still loading: what
            # is said meanwhile is kept, and transcribed once the model is there.
            recorder = self._recorder_for(voice)
            recorder.start()
            if not self.model_loaded:
                self.state.emit("loading")
            transcriber = self._load_transcriber()
            self._dictation = Dictation(transcriber, recorder, self.partial.emit)
            self._dictation.press()  # the recording already runs: it goes on
            # Say "listening" only once sound flows: a just-opened stream can take a
            # second or more to deliver (the words said before that are not heard).
            deadline = time.monotonic() + 3
            while recorder.last_block_at < self._pressed_at and time.monotonic() < deadline:
                time.sleep(0.02)
            self.state.emit("recording")
            if not voice.keep_microphone_open:
                self._close_after = True
        except Exception as e:  # never let voice take the app down
            self._stop_recording(recorder)
            self._fail(failure_text(e, "Voice input failed", log))
        finally:
            self._ready.set()

    def _stop_recording(self, recorder: Recorder | None) -> None:
        if recorder is not None:
            try:
                recorder.stop()
            except Exception:
                log.debug("stopping the recording failed", exc_info=True)

    def _fail(self, message: str) -> None:
        self._dictation = None
        self.held = False
        self.idle.set()
        self.state.emit("idle")
        self.failed.emit(message)

    def release(self) -> bool:
        """Stop listening and transcribe the tail; False when nothing was held."""
        if not self.held:
            return False
        self.held = False
        self.state.emit("transcribing")
        threading.Thread(target=self._finish, name="ptt-release", daemon=True).start()
        return True

    def _finish(self) -> None:
        self._ready.wait()
        dictation = self._dictation
        if dictation is None:
            return  # the failure was reported
        try:
            result = dictation.release()
            t = result.transcript
            rec = self._recorder
            silent_device = rec is not None and rec.last_block_at < self._pressed_at
            if not t.text and (t.duration == 0 or silent_device) and rec is not None:
                # Not one sample: the device went away or is muted. Reopen it next
                # time, so a real error can surface then.
                rec.disarm()
                dictation.finish()
                self._fail(SILENT_MIC)
                return
            dictation.finish()
            if self._close_after and rec is not None:
                rec.disarm()  # voice.keep_microphone_open is off
            self._close_after = False
            self.idle.set()
            self.state.emit("idle")
            self.final.emit(t.text, result.release_to_text_s, t.duration)
        except Exception as e:
            self._fail(failure_text(e, "Transcription failed", log))

    def close(self) -> None:
        self._closed = True
        if self._preload_thread is not None:
            # CTranslate2's threads must not be torn down mid-pass at exit.
            self._preload_thread.join(30)
        if self._dictation is not None:
            if self.held:
                self._dictation.cancel()
            self._dictation.finish()
        if self._recorder is not None:
            self._recorder.disarm()
