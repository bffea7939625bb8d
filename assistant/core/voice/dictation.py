"""Push-to-talk: transcribe while the key is held, so the text is ready at release.

A background loop re-transcribes the recording so far, back to back, and
reports the partial text. At release, if the last pass already covered all
the speech (what came after it is silence: people let go of the key a moment
after they stop talking), its text is final at once; otherwise one last pass
runs over the whole recording.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from assistant.core.voice.transcriber import SAMPLE_RATE, Transcriber, Transcript

log = logging.getLogger(__name__)

SILENCE_RMS = 0.01  # below this a 50 ms block counts as silence
MIN_PASS_S = 0.5  # no pass before this much audio


class AudioSource(Protocol):
    def start(self) -> None: ...
    def snapshot(self) -> np.ndarray: ...
    def stop(self) -> np.ndarray: ...


@dataclass(frozen=True)
class DictationResult:
    transcript: Transcript
    release_to_text_s: float  # the wait the user had after letting go
    passes: int  # transcriptions run while the key was held
    reused: bool  # the last pass was already final


def is_silent(audio: np.ndarray, block: int = SAMPLE_RATE // 20) -> bool:
    if len(audio) == 0:
        return True
    n = len(audio) // block * block or len(audio)
    blocks = audio[:n].reshape(-1, min(block, n)) if n >= block else audio[None, :]
    return bool(np.sqrt((blocks * blocks).mean(axis=1)).max() < SILENCE_RMS)


class Dictation:
    def __init__(
        self,
        transcriber: Transcriber,
        source: AudioSource,
        on_partial: Callable[[str], None] | None = None,
    ) -> None:
        self.transcriber = transcriber
        self.source = source
        self.on_partial = on_partial
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last: tuple[int, Transcript] | None = None  # samples covered, result
        self._passes = 0
        self._generation = 0  # a pass still running from an earlier press must not count

    def press(self) -> None:
        self.source.start()
        self._stop.clear()
        self._last, self._passes = None, 0
        self._generation += 1
        self._thread = threading.Thread(
            target=self._loop, args=(self._generation,), name="dictation", daemon=True
        )
        self._thread.start()

    def _loop(self, generation: int) -> None:
        while not self._stop.is_set() and generation == self._generation:
            audio = self.source.snapshot()
            covered = self._last[0] if self._last else 0
            if len(audio) < MIN_PASS_S * SAMPLE_RATE or len(audio) - covered < SAMPLE_RATE // 5:
                self._stop.wait(0.05)
                continue
            try:
                result = self.transcriber.transcribe(audio)
            except Exception:  # the final pass will report it
                log.warning("partial transcription failed", exc_info=True)
                return
            if generation != self._generation:
                return
            self._last = (len(audio), result)
            self._passes += 1
            if self.on_partial and not self._stop.is_set():
                self.on_partial(result.text)

    def cancel(self) -> None:
        """Stop without a result (the window closes while the key is held)."""
        self._stop.set()
        self.source.stop()

    def finish(self) -> None:
        """Wait for a pass still in flight (before the process exits: CTranslate2's
        threads must not be torn down mid-pass)."""
        if self._thread is not None:
            self._thread.join()

    def _covered(self, audio: np.ndarray) -> bool:
        """Did the last finished pass hear all the speech (only silence came after)?"""
        return self._last is not None and is_silent(audio[self._last[0] :])

    def release(self) -> DictationResult:
        """Stop recording and return the final text."""
        released = time.perf_counter()
        audio = self.source.stop()
        self._stop.set()
        if not self._covered(audio) and self._thread is not None:
            self._thread.join()  # the pass in flight may cover the speech
        last = self._last
        if last is not None and self._covered(audio):
            transcript, reused = last[1], True
        else:
            transcript, reused = self.transcriber.transcribe(audio), False
        return DictationResult(transcript, time.perf_counter() - released, self._passes, reused)


class ClipSource:
    """A recorded clip played back in real time: stands in for the microphone in the
    benchmark and tests, so release-to-text is measured on the real timeline."""

    def __init__(self, audio: np.ndarray) -> None:
        self.audio = np.asarray(audio, dtype=np.float32)
        self._t0 = 0.0

    def _now(self) -> int:
        return min(len(self.audio), int((time.perf_counter() - self._t0) * SAMPLE_RATE))

    def start(self) -> None:
        self._t0 = time.perf_counter()

    def snapshot(self) -> np.ndarray:
        return self.audio[: self._now()]

    def stop(self) -> np.ndarray:
        return self.audio[: self._now()]

    @property
    def remaining_s(self) -> float:
        return (len(self.audio) - self._now()) / SAMPLE_RATE
