"""Entry point: parses arguments and turns every expected failure into one line."""

from __future__ import annotations

import argparse
import logging
import logging.handlers
import sys
import threading
from collections.abc import Sequence

from assistant import __version__
from assistant.core.base import privacy
from assistant.core.base.errors import AssistantError
from assistant.core.base.paths import get_paths
from assistant.core.history.backups import explain

log = logging.getLogger("assistant")


class _OneLine(logging.Formatter):
    """The terminal gets one line per record; tracebacks go to the log file only."""

    def format(self, record: logging.LogRecord) -> str:
        text = f"{record.levelname} {record.name}: {record.getMessage()}"
        return text.splitlines()[0] if text else text


def _setup_logging(verbose: bool) -> str | None:
    # A log line that cannot be written (a full disk) must not print a traceback.
    logging.raiseExceptions = False
    root = logging.getLogger()
    root.setLevel(logging.DEBUG)
    console = logging.StreamHandler(sys.stderr)
    console.setLevel(logging.INFO if verbose else logging.WARNING)
    console.setFormatter(_OneLine())
    console.addFilter(lambda r: not getattr(r, "file_only", False))
    root.addHandler(console)
    # Uncaught errors in helper threads go to the log too, not as a traceback on stderr.
    threading.excepthook = lambda a: log.error(
        "unexpected error in thread %s",
        a.thread.name if a.thread else "?",
        exc_info=(a.exc_type, a.exc_value, a.exc_traceback),
    )
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
    paths = get_paths()
    privacy.harden_process(paths.cache_dir)  # before any library that phones home loads
    parser = build_parser()
    args = parser.parse_args(argv)
    privacy.secure_existing(paths.config_dir, paths.data_dir, paths.cache_dir)
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
        known = explain(e, paths)
        if known is not None:  # a full disk, a damaged database: what to do, in one line
            log.error("%s", known, exc_info=True, extra={"file_only": True})
            print(f"error: {known}", file=sys.stderr)
            return 1
        log.error("unexpected error", exc_info=True, extra={"file_only": True})
        where = f" Details are in {log_file}." if log_file else ""
        first = str(e).splitlines()[0][:300] if str(e) else ""
        print(f"error: unexpected {type(e).__name__}: {first}.{where}", file=sys.stderr)
        return 2
