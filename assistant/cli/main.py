"""Entry point: parses arguments and turns every expected failure into one line."""

from __future__ import annotations

import argparse
import logging
import logging.handlers
import sys
from collections.abc import Sequence

from assistant import __version__
from assistant.core.errors import AssistantError
from assistant.core.paths import get_paths

log = logging.getLogger("assistant")


def _setup_logging(verbose: bool) -> str | None:
    root = logging.getLogger()
    root.setLevel(logging.DEBUG)
    console = logging.StreamHandler(sys.stderr)
    console.setLevel(logging.INFO if verbose else logging.WARNING)
    console.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root.addHandler(console)
    # pypdf warns about every quirk of a damaged PDF; the skip reason says enough.
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    try:
        logs = get_paths().logs_dir
        logs.mkdir(parents=True, exist_ok=True)
        fh = logging.handlers.RotatingFileHandler(
            logs / "assistant.log", maxBytes=2_000_000, backupCount=3, encoding="utf-8"
        )
        fh.setLevel(logging.DEBUG if verbose else logging.INFO)
        fh.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(fh)
        return str(logs / "assistant.log")
    except OSError:
        return None


def build_parser() -> argparse.ArgumentParser:
    from assistant.cli import (
        chat_cmd,
        desktop_cmd,
        docs_cmd,
        doctor,
        history_cmd,
        memory_cmd,
        models_cmd,
        serve_cmd,
        settings_cmd,
        voice_cmd,
    )

    p = argparse.ArgumentParser(
        prog="assistant",
        description="A private AI assistant that runs on your own computer.",
    )
    p.add_argument("--version", action="version", version=f"assistant {__version__}")
    p.add_argument("-v", "--verbose", action="store_true", help="log details to stderr")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    chat_cmd.register(sub)
    history_cmd.register(sub)
    memory_cmd.register(sub)
    docs_cmd.register(sub)
    voice_cmd.register(sub)
    settings_cmd.register(sub)
    doctor.register(sub)
    desktop_cmd.register(sub)
    models_cmd.register(sub)
    serve_cmd.register(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    log_file = _setup_logging(args.verbose)
    if not getattr(args, "func", None):
        # No command: the desktop window, or the terminal chat where there is no screen.
        from assistant.ui.app import has_display

        if has_display():
            args = parser.parse_args(["gui"])
        else:
            print(
                "No display found: starting the terminal chat (`assistant chat`).", file=sys.stderr
            )
            args = parser.parse_args(["chat"])
    try:
        return int(args.func(args) or 0)
    except AssistantError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as e:
        log.exception("unexpected error")
        where = f" Details are in {log_file}." if log_file else ""
        print(f"error: unexpected {type(e).__name__}: {e}.{where}", file=sys.stderr)
        return 2
