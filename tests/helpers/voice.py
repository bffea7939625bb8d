"""Real speech for the voice tests: espeak-ng, a word error rate, playing into the sound server."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

# Whisper writes American spelling; the reference may be British.
SPELLING = {"favourite": "favorite", "colour": "color"}


def words(text: str) -> list[str]:
    return [SPELLING.get(w, w) for w in re.findall(r"[a-z0-9']+", text.lower())]


def wer(reference: str, hypothesis: str) -> float:
    """Word error rate: word-level edit distance ÷ reference length."""
    ref, hyp = words(reference), words(hypothesis)
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        prev, row[0] = row[0], i
        for j, h in enumerate(hyp, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (r != h))
    return row[-1] / max(1, len(ref))


def speak(text: str, path: Path, voice: str = "en-us", wpm: int = 160) -> Path:
    """espeak-ng speech, resampled to 16 kHz mono (what a microphone stream gives us)."""
    raw = path.with_suffix(".raw.wav")
    subprocess.run(["espeak-ng", "-v", voice, "-s", str(wpm), "-w", str(raw), text], check=True)
    subprocess.run(["sox", str(raw), "-r", "16000", "-c", "1", str(path)], check=True)
    return path


def play(wav: Path, server: str) -> subprocess.Popen:
    return subprocess.Popen(
        ["paplay", "--device=vsink", str(wav)], env={**os.environ, "PULSE_SERVER": server}
    )
