"""`assistant transcribe FILE`: speech to text from an audio file, offline."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from assistant.cli import common


def register(sub: argparse._SubParsersAction) -> None:
    t = sub.add_parser("transcribe", help="print the text spoken in an audio file (offline)")
    t.add_argument("file", type=Path)
    t.add_argument("--json", action="store_true", help="text, segments with times, and timings")
    t.add_argument("--language", help="spoken language code (default: settings, 'en')")
    t.set_defaults(func=cmd_transcribe)


def cmd_transcribe(args: argparse.Namespace) -> int:
    from assistant.core.transcriber import Transcriber, read_audio

    voice = common.settings().voice
    if args.language:
        voice = voice.model_copy(update={"language": args.language})
    audio = read_audio(args.file)  # a bad file fails before the model loads
    result = Transcriber(voice).transcribe(audio)
    if args.json:
        print(json.dumps(result.to_dict(), ensure_ascii=False))
    else:
        print(result.text)
    return 0
