"""`assistant transcribe FILE`: speech to text from an audio file, offline."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from assistant.cli import common


def register(sub: argparse._SubParsersAction) -> None:
    t = sub.add_parser("transcribe", help="print the text spoken in an audio file (offline)")
    t.add_argument("file", type=Path)
    t.add_argument("--json", action="store_true", help="text, segments with times, and timings")
    t.add_argument("--language", help="spoken language code (default: settings, 'en')")
    t.set_defaults(func=cmd_transcribe)

    li = sub.add_parser("listen", help="record from the microphone, then print what was said")
    li.add_argument("--seconds", type=float, help="stop after this long (default: at Enter)")
    li.add_argument("--ask", action="store_true", help="send the transcript to the assistant")
    li.add_argument("--json", action="store_true", help="transcript and timings as JSON")
    li.add_argument(
        "--devices", action="store_true", help="list the microphones (for voice.input_device)"
    )
    li.set_defaults(func=cmd_listen)


def cmd_transcribe(args: argparse.Namespace) -> int:
    from assistant.core.voice.transcriber import Transcriber, read_audio

    voice = common.settings().voice
    if args.language:
        voice = voice.model_copy(update={"language": args.language})
    audio = read_audio(args.file)  # a bad file fails before the model loads
    result = Transcriber(voice).transcribe(audio)
    if args.json:
        print(json.dumps(result.to_dict(), ensure_ascii=False))
    elif result.text:
        print(result.text)
    else:
        print(common.Dim()("[no speech found]"), file=sys.stderr)
    return 0


def cmd_listen(args: argparse.Namespace) -> int:
    import sys
    import time

    from assistant.core.base.errors import AssistantError
    from assistant.core.voice.capture import Recorder
    from assistant.core.voice.dictation import Dictation
    from assistant.core.voice.transcriber import Transcriber

    settings = common.settings()
    voice = settings.voice
    if args.devices:
        return _list_devices(voice.input_device)
    transcriber = Transcriber(voice)
    transcriber.load()  # before the microphone opens: speaking starts at once after
    recorder = Recorder(voice.input_device, voice.pre_roll_ms / 1000, voice.max_seconds)
    dictation = Dictation(transcriber, recorder)
    dim = common.Dim()
    dictation.press()
    try:
        if args.seconds:
            print(dim(f"Listening for {args.seconds:g} s…"), file=sys.stderr)
            time.sleep(args.seconds)
        else:
            print(dim("Listening… press Enter to stop."), file=sys.stderr)
            sys.stdin.readline()
        result = dictation.release()
    finally:
        recorder.disarm()
        dictation.finish()
    text = result.transcript.text
    if not text:
        raise AssistantError("Nothing was heard.", "Check the microphone and try again.")
    if args.json and not args.ask:
        out = result.transcript.to_dict() | {
            "release_to_text_s": round(result.release_to_text_s, 3)
        }
        print(json.dumps(out, ensure_ascii=False))
        return 0
    print(text)
    if args.ask:
        from assistant.cli.chat_cmd import cmd_ask

        ask = argparse.Namespace(
            question=[text], json=args.json, model=None, system=None, no_save=False, docs=False
        )
        return cmd_ask(ask)
    return 0


def _list_devices(current: str | None) -> int:
    from assistant.core.voice.capture import input_devices

    names = input_devices()
    if not names:
        print("No microphones found. Check that one is connected and the sound server runs.")
        return 1
    for i, name in enumerate(names):
        mark = "*" if current in (name, str(i)) else " "
        print(f"{mark} {i}: {name}")
    now = f"now: {current}" if current else "now: the system default"
    print(
        f'\nSet one with `assistant settings set voice.input_device "NAME"` or its number ({now}).'
    )
    return 0
