"""Speech to text with faster-whisper (CTranslate2), offline.

The default model is the bundled ``tiny.en``; any CTranslate2 Whisper folder
can be configured. int8 on CPU, float16 on CUDA when a GPU build of
CTranslate2 sees a device. faster_whisper is imported on first use, off the
GUI thread.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from assistant.core.base import starter
from assistant.core.base.errors import AssistantError, ModelError
from assistant.core.config.settings import VoiceSettings

log = logging.getLogger(__name__)

SAMPLE_RATE = 16_000  # what Whisper expects; capture records at this rate too


@dataclass(frozen=True)
class Segment:
    start: float  # seconds from the start of the audio
    end: float
    text: str


@dataclass(frozen=True)
class Transcript:
    text: str
    segments: tuple[Segment, ...]
    duration: float  # seconds of audio
    language: str
    elapsed_s: float  # time spent transcribing

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["elapsed_s"] = round(self.elapsed_s, 3)
        d["duration"] = round(self.duration, 3)
        return d


def default_threads() -> int:
    return max(1, os.cpu_count() or 1)


class Transcriber:
    """Thread-safe; the model loads on first use."""

    def __init__(self, settings: VoiceSettings | None = None) -> None:
        self.settings = settings or VoiceSettings()
        self._model: Any = None
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return Path(self.settings.model).name if self.settings.model else starter.SPEECH.name

    def _folder(self) -> Path:
        if not self.settings.model:
            p = starter.SPEECH.path()
            if p is None:
                raise ModelError(
                    f"The starter speech model ({starter.SPEECH.name}) is not installed.",
                    starter.install_hint(starter.SPEECH),
                )
            return p
        p = Path(self.settings.model).expanduser()
        if not p.is_dir():
            raise ModelError(
                f"The speech model folder {p} does not exist.",
                "Set voice.model to a faster-whisper (CTranslate2) folder, or leave it empty.",
            )
        if not (p / "model.bin").exists() or not (p / "config.json").exists():
            raise ModelError(
                f"{p} is not a CTranslate2 Whisper model (no model.bin and config.json).",
                "Use a faster-whisper model folder (e.g. Systran/faster-whisper-small), "
                "or leave voice.model empty for the bundled one.",
            )
        return p

    def load(self) -> Any:
        with self._lock:
            if self._model is None:
                folder = self._folder()
                os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never download at run time
                from faster_whisper import WhisperModel

                device, compute = self._device()
                try:
                    self._model = WhisperModel(
                        str(folder),
                        device=device,
                        compute_type=compute,
                        cpu_threads=default_threads(),
                    )
                except (RuntimeError, ValueError, OSError) as e:
                    reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
                    reason = reason if len(reason) <= 120 else reason[:117] + "…"
                    raise ModelError(
                        f"Cannot load the speech model {self.name} ({reason.rstrip('.')}).",
                        "Check voice.model, or leave it empty for the bundled one.",
                    ) from e
                log.info("speech model %s loaded (%s, %s)", self.name, device, compute)
            return self._model

    def _device(self) -> tuple[str, str]:
        wanted = self.settings.device
        if wanted == "cpu":
            return "cpu", "int8"
        import ctranslate2

        has_cuda = ctranslate2.get_cuda_device_count() > 0
        if wanted == "cuda" and not has_cuda:
            raise ModelError(
                "voice.device is 'cuda' but no CUDA device is available to CTranslate2.",
                "Set voice.device to auto or cpu.",
            )
        return ("cuda", "float16") if has_cuda else ("cpu", "int8")

    def transcribe(self, audio: np.ndarray | str | Path) -> Transcript:
        """Audio as float32 mono samples at 16 kHz, or a file path (any format ffmpeg reads)."""
        model = self.load()
        if not isinstance(audio, np.ndarray):
            audio = read_audio(Path(audio))
        audio = np.asarray(audio, dtype=np.float32).reshape(-1)
        language = self.settings.language or None
        if not model.model.is_multilingual:
            if language not in (None, "en"):
                raise ModelError(
                    f"The speech model {self.name} understands English only, "
                    f"but the language is set to '{language}'.",
                    "Set voice.model to a multilingual faster-whisper model folder "
                    "(e.g. faster-whisper-small), or voice.language to en.",
                )
            language = "en"
        t0 = time.perf_counter()
        segments, info = model.transcribe(
            audio,
            language=language,
            beam_size=1,  # greedy: the latency matters more than the last percent
            vad_filter=len(audio) > SAMPLE_RATE,  # trim silence (faster-whisper's Silero VAD)
            condition_on_previous_text=False,
        )
        segs = tuple(Segment(s.start, s.end, s.text.strip()) for s in segments)
        text = " ".join(s.text for s in segs if s.text).strip()
        return Transcript(
            text, segs, len(audio) / SAMPLE_RATE, info.language, time.perf_counter() - t0
        )


def read_audio(path: Path) -> np.ndarray:
    if not path.exists():
        raise AssistantError(f"{path} does not exist.", "Give the path of an audio file.")
    if not path.is_file():
        raise AssistantError(f"{path} is not a file.", "Give the path of an audio file.")
    from faster_whisper import decode_audio

    try:
        return np.asarray(decode_audio(str(path), sampling_rate=SAMPLE_RATE), dtype=np.float32)
    except Exception as e:  # PyAV raises its own error types for every bad file
        log.debug("decoding %s failed", path, exc_info=True)
        raise AssistantError(
            f"Cannot read {path.name}: it is not audio this app can decode.",
            "Use a WAV, MP3, FLAC, OGG or M4A file.",
        ) from e
