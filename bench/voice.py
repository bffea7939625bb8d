"""Voice benchmark: release-to-text latency, ours vs transcribing after release.

    python bench/voice.py

Speech made with espeak-ng (2, 5 and 10 s, plus the 0.4 s of silence people
leave before letting go of the key) is played in real time into our
push-to-talk pipeline, which transcribes while the key is held. Baseline:
plain faster-whisper on the whole clip after release (same model, same run).
Also prints the real-time factor (transcription time ÷ audio duration).
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from assistant.core.config.settings import VoiceSettings
from assistant.core.voice.dictation import ClipSource, Dictation
from assistant.core.voice.transcriber import SAMPLE_RATE, Transcriber, read_audio

TEXTS = {
    2: "Turn on the lights.",
    5: "Please remind me to call my sister tomorrow morning about the trip.",
    10: "I would like to book a table for four people on Friday evening at a quiet "
    "restaurant near the station, preferably one with vegetarian dishes.",
}
RELEASE_AFTER_S = 0.4


def speech(text: str, folder: Path) -> np.ndarray:
    raw, wav = folder / "raw.wav", folder / "s.wav"
    subprocess.run(["espeak-ng", "-s", "150", "-w", str(raw), text], check=True)
    subprocess.run(["sox", str(raw), "-r", "16000", "-c", "1", str(wav)], check=True)
    audio = read_audio(wav)
    return np.concatenate([audio, np.zeros(int(RELEASE_AFTER_S * SAMPLE_RATE), np.float32)])


def main() -> None:
    t = Transcriber(VoiceSettings())
    t.load()
    t.transcribe(np.zeros(SAMPLE_RATE, np.float32))  # warm up
    print(f"model {t.name}, CPU, int8; release {RELEASE_AFTER_S} s after the speech ends")
    with tempfile.TemporaryDirectory() as tmp:
        for target, text in TEXTS.items():
            audio = speech(text, Path(tmp))
            ours, base, rtf, reused = [], [], [], 0
            for _ in range(3):
                src = ClipSource(audio)
                d = Dictation(t, src)
                d.press()
                time.sleep(src.remaining_s)  # the key is held while the clip plays
                r = d.release()
                ours.append(r.release_to_text_s)
                reused += r.reused
                d.finish()  # a pass still in flight would slow the baseline down
                t0 = time.perf_counter()
                full = t.transcribe(audio)
                base.append(time.perf_counter() - t0)
                rtf.append(full.elapsed_s / full.duration)
            o, b = statistics.median(ours), statistics.median(base)
            print(
                f"{len(audio) / SAMPLE_RATE:4.1f} s clip (~{target} s speech): release→text ours"
                f" {o:.3f} s (last pass reused {reused}/3), after-release baseline {b:.3f} s,"
                f" ours÷baseline {o / b:.2f}, RTF {statistics.median(rtf):.3f}"
                f" | {r.transcript.text}"
            )


if __name__ == "__main__":
    main()
