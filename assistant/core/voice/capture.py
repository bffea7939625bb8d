"""Microphone capture for push-to-talk: an always-on input stream with a pre-roll.

While armed, the stream runs and the last ``pre_roll_s`` of audio are kept in a
ring buffer, so speech that starts a moment before the key press is not cut
off. ``start`` begins a recording with that pre-roll; ``stop`` returns it all.
sounddevice (PortAudio) is imported on first use; every failure becomes a
``VoiceError`` with a one-line reason.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import os
import re
import threading
import time
from collections.abc import Iterator
from typing import Any

import numpy as np

from assistant.core.base.errors import AssistantError

log = logging.getLogger(__name__)

SAMPLE_RATE = 16_000
BLOCK = 800  # 50 ms per callback: a responsive level meter, little overhead


class VoiceError(AssistantError):
    """No microphone, PortAudio missing, device busy or refused."""


def _reason(e: Exception) -> str:
    """PortAudio's text without its boilerplate: 'Device unavailable', not a code dump."""
    text = re.sub(r"\s*\[PaErrorCode -?\d+\]", "", str(e))
    text = re.sub(r"^Error (opening|starting) \w+:\s*", "", text).strip().rstrip(".")
    return text or type(e).__name__


@contextlib.contextmanager
def quiet_stderr() -> Iterator[None]:
    """Silence C libraries writing to fd 2 (ALSA and PortAudio print dozens of
    lines when a device or the sound server is missing); our own message says it."""
    try:
        saved = os.dup(2)
        null = os.open(os.devnull, os.O_WRONLY)
    except OSError:
        yield
        return
    try:
        os.dup2(null, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(null)


def _sounddevice() -> Any:
    try:
        with quiet_stderr():
            import sounddevice as sd
    except OSError as e:  # the Python package is there, the PortAudio library is not
        raise VoiceError(
            "PortAudio, the audio library voice input needs, is not installed.",
            "Install it (Debian/Ubuntu: `sudo apt install libportaudio2`) or run `make sysdeps`.",
        ) from e
    return sd


# PortAudio is not thread-safe for opening, closing, listing or restarting: all of
# that happens under this lock (stream callbacks do not need it). It also keeps
# quiet_stderr's fd juggling to one thread at a time.
_pa_lock = threading.RLock()
_open_streams = 0  # PortAudio may only be restarted while none is open


def _rescan(sd: Any) -> None:
    """PortAudio lists devices once, when it starts: restart it (when no stream is
    open) so a microphone plugged in, or a sound server started, since is seen.
    Call with ``_pa_lock`` held."""
    if _open_streams == 0:
        try:
            with quiet_stderr():
                sd._terminate()
                sd._initialize()
        except Exception:  # keep the old list; opening will say what is wrong
            log.debug("restarting PortAudio failed", exc_info=True)


def input_devices() -> list[str]:
    with _pa_lock:
        sd = _sounddevice()
        _rescan(sd)
        with quiet_stderr():
            return [d["name"] for d in sd.query_devices() if d["max_input_channels"] > 0]


class Recorder:
    def __init__(
        self,
        device: str | int | None = None,
        pre_roll_s: float = 0.4,
        max_s: float = 120.0,
        samplerate: int = SAMPLE_RATE,
    ) -> None:
        self.device = int(device) if isinstance(device, str) and device.isdigit() else device
        self.samplerate = samplerate
        self.max_samples = int(max_s * samplerate)
        self._pre = collections.deque(maxlen=max(1, int(pre_roll_s * samplerate / BLOCK)))
        self._blocks: list[np.ndarray] = []
        self._recording = False
        self._lock = threading.Lock()
        self._stream: Any = None
        self.level = 0.0  # RMS of the latest block, 0..1
        self.last_block_at = 0.0  # time.monotonic() of the latest block: is sound still coming?
        self.truncated = False  # the recording hit max_s

    @property
    def armed(self) -> bool:
        return self._stream is not None

    def arm(self) -> None:
        """Open the input stream (the pre-roll starts filling)."""
        with _pa_lock:
            self._arm()

    def _arm(self) -> None:
        global _open_streams
        if self._stream is not None:
            if self._stream.active:
                return
            self.disarm()  # the device went away (unplugged, sound server stopped): reopen
        sd = _sounddevice()
        _rescan(sd)
        try:
            with quiet_stderr():
                has_input = any(d["max_input_channels"] > 0 for d in sd.query_devices())
                if not has_input:
                    raise VoiceError(
                        "No microphone found.",
                        "Connect one, and check that the sound server (PulseAudio or "
                        "PipeWire) is running.",
                    )
                stream = sd.InputStream(
                    samplerate=self.samplerate,
                    channels=1,
                    dtype="float32",
                    blocksize=BLOCK,
                    device=self.device,
                    callback=self._callback,
                )
                stream.start()
        except VoiceError:
            raise
        except ValueError as e:  # sounddevice: no device, or several, by that name
            several = "multiple" in str(e).lower()
            raise VoiceError(
                f"{'Several microphones match' if several else 'No microphone matches'} "
                f"voice.input_device '{self.device}'.",
                "Pick one in Settings, or see `assistant listen --devices`; "
                "empty uses the system default.",
            ) from e
        except sd.PortAudioError as e:
            raise VoiceError(
                f"Cannot open the microphone ({_reason(e)}).",
                "Check that it is connected, not in use by another program, and that the "
                "sound server is running; on macOS and Windows allow microphone access.",
            ) from e
        self._stream = stream
        _open_streams += 1
        log.info("microphone armed (%s)", self.device or "default")

    def disarm(self) -> None:
        global _open_streams
        with _pa_lock:
            stream, self._stream = self._stream, None
            if stream is not None:
                _open_streams -= 1
                try:
                    stream.stop()
                    stream.close()
                except Exception:  # the device is gone already
                    log.debug("closing the input stream failed", exc_info=True)
        with self._lock:
            self._pre.clear()

    def _callback(self, indata: np.ndarray, frames: int, _time: Any, status: Any) -> None:
        if status:
            log.debug("input status: %s", status)
        self.last_block_at = time.monotonic()
        block = indata[:, 0].copy()
        self.level = float(np.sqrt(np.mean(block * block))) if len(block) else 0.0
        with self._lock:
            if not self._recording:
                self._pre.append(block)
            elif sum(len(b) for b in self._blocks) < self.max_samples:
                self._blocks.append(block)
            else:
                self.truncated = True

    def start(self) -> None:
        """Begin a recording, keeping the pre-roll (arms the stream if needed); a
        recording already running goes on (it was started before the speech model
        was ready)."""
        self.arm()
        with self._lock:
            if self._recording:
                return
            self._blocks = list(self._pre)
            self._pre.clear()
            self._recording = True
            self.truncated = False

    def snapshot(self) -> np.ndarray:
        """The recording so far (for transcribing while the key is held)."""
        with self._lock:
            return np.concatenate(self._blocks) if self._blocks else np.zeros(0, np.float32)

    def stop(self) -> np.ndarray:
        """End the recording; the stream stays armed for the next press."""
        with self._lock:
            self._recording = False
            audio = np.concatenate(self._blocks) if self._blocks else np.zeros(0, np.float32)
            self._blocks = []
        return audio[: self.max_samples]
