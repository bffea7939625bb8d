"""What most commands need: settings, the history store, the chat session, the model."""

from __future__ import annotations

import contextlib
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from assistant.core.base.paths import get_paths
from assistant.core.base.types import CancelToken
from assistant.core.chat.session import ChatSession
from assistant.core.config.settings import Settings, load_settings
from assistant.core.engine.protocol import Engine
from assistant.core.history.store import HistoryStore
from assistant.core.memory.service import MemoryService


def settings() -> Settings:
    return load_settings(get_paths())


def open_store() -> HistoryStore:
    paths = get_paths().ensure()
    store = HistoryStore(paths.history_db, paths.backups_dir)
    store.backup_if_due()  # when the newest is over an hour old (a few ms for a typical history)
    return store


def open_session(s: Settings, recall_only: bool = False) -> ChatSession:
    """History, memory over it (no model yet: ``open_model``); index notices are printed."""
    from assistant.core.chat.session import open_session as _open

    session = _open(get_paths().ensure(), s, recall_only=recall_only, on_notice=_tell)
    session.store.backup_if_due()
    return session


@contextlib.contextmanager
def open_memory() -> Iterator[MemoryService]:
    """Memory for a `memory` or `docs` command, closed after it."""
    with open_session(settings()) as session:
        yield session.memory


def open_model(session: ChatSession, s: Settings, model: str | Path | None = None) -> Engine:
    engine = session.open_model(s, model)
    _say_offload(engine)
    return engine


def open_engine(s: Settings, model: str | None = None) -> Engine:
    """A model without a session (`serve`)."""
    from assistant.core.engine.llama import open_engine as _open

    engine = _open(s.model, model)
    _say_offload(engine)
    return engine


def _say_offload(engine: Engine) -> None:
    note = engine.describe().offload_note
    if note:  # a GPU fallback, or all layers on the GPU: said once per load
        print(Dim()(f"[{note}]"), file=sys.stderr)


def _tell(text: str) -> None:
    print(Dim()(f"[{text}]"), file=sys.stderr)


@contextlib.contextmanager
def ctrl_c_cancels(cancel: CancelToken) -> Iterator[None]:
    """While an answer streams, Ctrl+C stops it between tokens instead of killing us."""
    if not sys.stdin or signal.getsignal(signal.SIGINT) is None:
        yield
        return
    previous = signal.signal(signal.SIGINT, lambda *_: cancel.cancel())
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


class Dim:
    """Grey text for notices and stats, only on a terminal."""

    def __init__(self, stream: Any = None) -> None:
        self.stream = stream or sys.stderr
        self.on = bool(getattr(self.stream, "isatty", lambda: False)())

    def __call__(self, text: str) -> str:
        return f"\033[2m{text}\033[0m" if self.on else text
