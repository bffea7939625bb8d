"""`assistant gui`, `assistant quick [TEXT]` and `assistant ptt`: each reaches the
running app when there is one, and starts it otherwise."""

from __future__ import annotations

import argparse

from assistant.core.base.errors import AssistantError


def register(sub: argparse._SubParsersAction) -> None:
    g = sub.add_parser("gui", help="open the desktop window (the default with a screen)")
    g.set_defaults(func=_gui)
    q = sub.add_parser(
        "quick",
        help="open the quick prompt (and ask TEXT) without the main window",
        description="Open the quick prompt of the running assistant, starting it if needed. "
        "Bind this to a keyboard shortcut where global hotkeys are not allowed (Wayland).",
    )
    q.add_argument("text", nargs="*", help="a question to ask at once")
    q.set_defaults(func=_quick)
    p = sub.add_parser(
        "ptt",
        help="push-to-talk from a shortcut: the first call listens, the next one asks",
    )
    p.set_defaults(func=_ptt)


def _start(request: dict) -> int:
    from assistant.ui.app import has_display, run

    if not has_display():
        raise AssistantError(
            "No display found: the quick prompt needs a desktop session.",
            "Use `assistant ask TEXT` in a terminal instead.",
        )
    return run(request=request)


def _gui(_args: argparse.Namespace) -> int:
    return _start({"cmd": "show"})


def _quick(args: argparse.Namespace) -> int:
    return _start({"cmd": "quick", "text": " ".join(args.text).strip()})


def _ptt(_args: argparse.Namespace) -> int:
    return _start({"cmd": "ptt"})
