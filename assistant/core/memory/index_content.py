"""What the local vector index must hold, and who may write it.

``SOURCES`` says, per collection, which SQLite rows belong in the index (the sync and
every health check read it); ``samples`` picks a few of them to look up by their own
vectors; ``take_index_lock`` makes one process the index's owner (chromadb is not
process-safe), the others guests.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import IO

import numpy as np

from assistant.core.history.store import HistoryStore
from assistant.core.memory.vector_cache import VectorCache

log = logging.getLogger(__name__)

# collection -> (key prefix, SQL giving (id, text[, conversation_id]) of what belongs in it)
SOURCES: dict[str, tuple[str, str]] = {
    "memories": ("m", "SELECT id, text FROM memories WHERE status = 'active'"),
    "documents": ("c", "SELECT id, text FROM doc_chunks WHERE 1"),
    # Past questions that got an answer: a new question is matched against old ones,
    # and recall shows the pair.
    "conversations": (
        "h",
        "SELECT id, content, conversation_id FROM messages WHERE role = 'user'"
        " AND length(content) >= 20 AND EXISTS (SELECT 1 FROM messages a"
        " WHERE a.parent_id = messages.id AND a.role = 'assistant' AND a.status = 'complete'"
        # not the assistant's own fixed replies ("Got it, I'll remember that…")
        " AND COALESCE(a.model, '') != 'assistant')",
    ),
}


def samples(store: HistoryStore, collection: str, model: str) -> list[tuple[str, np.ndarray]]:
    """A few items the index must hold, with their cached vectors: the oldest, a middle
    one and the newest (``Knowledge`` and ``doctor`` query the index with them)."""
    prefix, sql = SOURCES[collection]
    ids = [r[0] for r in store.fetch(f"SELECT id FROM ({sql}) ORDER BY id")]
    picked = sorted({ids[0], ids[len(ids) // 2], ids[-1]}) if ids else []
    return VectorCache.read(store, model, [f"{prefix}{i}" for i in picked])


def take_index_lock(data_dir: Path) -> tuple[bool, IO[str] | None]:
    """The local index's exclusive lock (chromadb is not process-safe): ``(True, file)``
    for the owner, who keeps the file open; ``(False, None)`` when another process holds
    it. Without ``fcntl`` (Windows), one process per data folder is the user's job."""
    try:
        import fcntl
    except ImportError:
        return True, None
    data_dir.mkdir(parents=True, exist_ok=True)
    f = (data_dir / "index.lock").open("a+")
    try:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        f.close()
        return False, None
    try:  # the pid is for people looking; the lock is the flock
        f.seek(0)
        f.truncate()
        f.write(str(os.getpid()))
        f.flush()
    except OSError:
        pass
    return True, f


class IndexLost(Exception):
    """The index answers, but without items it was given: its vectors are gone."""


# Beside the index folder: an index was built here, so one that is gone was lost.
BUILT_MARK = "index.built"


def was_built(data_dir: Path) -> bool:
    """Whether a local index was built here before (cached vectors alone do not say
    so: a guest, such as `assistant ask`, writes them without any index)."""
    return (data_dir / BUILT_MARK).exists()


def mark_built(data_dir: Path) -> None:
    try:
        (data_dir / BUILT_MARK).touch()
    except OSError:  # a read-only or full disk: the next open only says less
        log.debug("could not mark the index as built", exc_info=True)
