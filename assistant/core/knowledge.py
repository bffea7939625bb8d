"""The derived side of memory: embeddings and the vector index, kept in step with SQLite.

SQLite holds every memory, passage and message, plus a cache of their
embedding vectors (``vectors``), so the chroma index can be rebuilt at any
time without re-embedding. One process owns a local index (an exclusive lock
file); another process (the CLI while the window runs) is a *guest*: it still
writes SQLite and vectors, searches by exact cosine over the cached vectors,
and the owner picks its changes up through ``index_epoch``.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterable
from typing import IO, Any

import numpy as np

from assistant.core.embedder import Embedder
from assistant.core.history import HistoryStore
from assistant.core.paths import Paths
from assistant.core.settings import MemorySettings
from assistant.core.vector_index import Hit, VectorIndex

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
EMBED_CHARS = 2000  # the embedder truncates at 256 word pieces anyway
BATCH = 64  # passages embedded per step (~2.5 s on 2 cores): answers get the lock in between


class Knowledge:
    def __init__(
        self,
        store: HistoryStore,
        paths: Paths,
        settings: MemorySettings | None = None,
        embedder: Embedder | None = None,
    ) -> None:
        self.store = store
        self.paths = paths
        self.settings = settings or MemorySettings()
        self.embedder = embedder or Embedder(self.settings.embedding_model, paths.cache_dir)
        self.index: VectorIndex | None = None  # None while loading, or as a guest
        self.guest = False
        self.notice: str | None = None  # shown once: "the index was rebuilt …"
        self._lock = threading.RLock()
        self._lock_file: IO[str] | None = None
        self._epoch = -1
        self._opened = threading.Event()

    # -- opening ------------------------------------------------------------

    @property
    def ready(self) -> bool:
        return self._opened.is_set()

    def open(self, progress: Callable[[int, int], None] | None = None) -> Knowledge:
        """Load the embedder, open (or rebuild) the index and bring it up to date."""
        with self._lock:
            if self._opened.is_set():
                return self
            url = self.settings.chroma_url
            owner = bool(url) or self._take_lock()
            self.embedder.load()
            if owner:
                path = self.paths.data_dir / "index"
                existed = (path / "manifest.json").exists()
                self.index = VectorIndex(path, self.embedder.name, self.embedder.dimension, url)
                if self.index.rebuilt_reason:
                    self.notice = f"The memory index was rebuilt ({self.index.rebuilt_reason})."
                elif not url and not existed and self._was_built():
                    self.notice = "The memory index was missing; it was rebuilt from the database."
                self.sync(progress)
            else:
                self.guest = True
                log.info("another process owns the index; searching the cached vectors")
                self.vectors([(f"m{r[0]}", r[1]) for r in self._rows("memories")])
            self._opened.set()
        return self

    def open_within(self, timeout: float) -> bool:
        """Open, waiting at most ``timeout`` s for another thread that is opening it."""
        if not self._lock.acquire(timeout=timeout):
            return False
        try:
            self.open()
        finally:
            self._lock.release()
        return True

    def _was_built(self) -> bool:
        """Cached vectors mean an index existed before (they are written while indexing)."""
        return bool(self.store.fetch("SELECT EXISTS(SELECT 1 FROM vectors)")[0][0])

    def _take_lock(self) -> bool:
        if self._lock_file is not None:
            return True
        try:
            import fcntl
        except ImportError:  # Windows: one process per data folder is the user's job
            return True
        self.paths.data_dir.mkdir(parents=True, exist_ok=True)
        f = (self.paths.data_dir / "index.lock").open("a+")
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            f.close()
            return False
        f.seek(0)
        f.truncate()
        f.write(str(os.getpid()))
        f.flush()
        self._lock_file = f
        return True

    def close(self) -> None:
        with self._lock:
            if self._lock_file:
                self._lock_file.close()
                self._lock_file = None
            self.index = None
            self._opened.clear()

    # -- vectors ------------------------------------------------------------

    def vectors(self, keyed_texts: list[tuple[str, str]]) -> np.ndarray:
        """Vectors for (key, text) pairs: from the cache, embedding what is missing."""
        dim = self.embedder.dimension
        out = np.zeros((len(keyed_texts), dim), dtype=np.float32)
        if not keyed_texts:
            return out
        cached = self._cached([k for k, _ in keyed_texts])
        missing = [i for i, (k, _) in enumerate(keyed_texts) if k not in cached]
        for i, (k, _) in enumerate(keyed_texts):
            if k in cached:
                out[i] = cached[k]
        for start in range(0, len(missing), BATCH):
            part = missing[start : start + BATCH]
            vecs = self.embedder.embed([keyed_texts[i][1][:EMBED_CHARS] for i in part])
            out[part] = vecs
            name = self.embedder.name
            with self.store.transaction() as db:
                db.executemany(
                    "INSERT OR REPLACE INTO vectors (key, model, vec) VALUES (?, ?, ?)",
                    [
                        (keyed_texts[i][0], name, v.tobytes())
                        for i, v in zip(part, vecs, strict=True)
                    ],
                )
        return out

    def _cached(self, keys: list[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        dim, name = self.embedder.dimension, self.embedder.name
        for start in range(0, len(keys), 900):  # SQLite's parameter limit
            part = keys[start : start + 900]
            marks = ",".join("?" * len(part))
            for key, blob in self.store.fetch(
                f"SELECT key, vec FROM vectors WHERE model = ? AND key IN ({marks})", (name, *part)
            ):
                v = np.frombuffer(blob, dtype=np.float32)
                if v.shape == (dim,):
                    found[key] = v
        return found

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        return self.embedder.embed([t[:EMBED_CHARS] for t in texts])

    # -- keeping the index in step ---------------------------------------------

    def _epoch_now(self) -> int:
        return int(self.store.fetch("SELECT n FROM index_epoch")[0][0])

    def sync(self, progress: Callable[[int, int], None] | None = None) -> dict[str, int]:
        """Add what SQLite has and the index lacks, remove what SQLite no longer has."""
        # Not under one lock: embedding a big folder must not hold up an answer's recall
        # for minutes; the lock is taken per index call instead.
        changed: dict[str, int] = {}
        epoch = self._epoch_now()
        for collection in SOURCES:
            if collection == "conversations" and not self.settings.recall_conversations:
                continue
            changed[collection] = self._sync_collection(collection, progress)
        self._epoch = epoch
        return changed

    def sync_if_changed(self) -> None:
        """Cheap when nothing changed: one SELECT of the epoch counter."""
        epoch = self._epoch_now()
        if epoch == self._epoch:
            return
        if self.index is not None:
            self.sync()
        elif self.guest:  # no index to update: make sure new memories have vectors
            with self._lock:
                self.vectors([(f"m{r[0]}", r[1]) for r in self._rows("memories")])
                self._epoch = epoch

    def _rows(self, collection: str) -> list[tuple]:
        return self.store.fetch(SOURCES[collection][1])

    def _sync_collection(self, collection: str, progress: Callable[[int, int], None] | None) -> int:
        prefix, sql = SOURCES[collection]
        with self._lock:
            if self.index is None:
                return 0
            # Ids first: at 100k passages, reading every text just to diff would be ~100 MB.
            wanted = {f"{prefix}{r[0]}" for r in self.store.fetch(f"SELECT id FROM ({sql})")}
            have = self.index.ids(collection)
            stale = sorted(have - wanted)
            self.index.delete(collection, stale)
        todo = sorted(wanted - have, key=lambda k: int(k[len(prefix) :]))
        for start in range(0, len(todo), BATCH):
            ids = [int(k[len(prefix) :]) for k in todo[start : start + BATCH]]
            marks = ",".join("?" * len(ids))
            self._upsert(collection, self.store.fetch(f"{sql} AND id IN ({marks})", tuple(ids)))
            if progress:
                progress(min(start + BATCH, len(todo)), len(todo))
        if todo or stale:
            log.info("index %s: +%d -%d", collection, len(todo), len(stale))
        return len(todo) + len(stale)

    def _upsert(self, collection: str, rows: list[tuple]) -> None:
        prefix = SOURCES[collection][0]
        keys = [f"{prefix}{r[0]}" for r in rows]
        vecs = self.vectors(list(zip(keys, [r[1] for r in rows], strict=True)))  # the slow part
        metas = (
            [{"conversation_id": int(r[2])} for r in rows]
            if collection == "conversations"
            else None
        )
        with self._lock:
            if self.index is not None:
                self.index.upsert(collection, keys, vecs, metadatas=metas)

    def index_messages(self, message_ids: Iterable[int]) -> None:
        """Make just-finished messages recallable from other conversations."""
        if not self.settings.recall_conversations:
            return
        ids = [int(i) for i in message_ids]
        if not ids:
            return
        sql = SOURCES["conversations"][1] + f" AND id IN ({','.join('?' * len(ids))})"
        rows = self.store.fetch(sql, tuple(ids))
        with self._lock:
            if self.index is not None and rows:
                self._upsert("conversations", rows)
            elif rows and self.ready:  # guest: cache the vectors for the owner
                self.vectors([(f"h{r[0]}", r[1]) for r in rows])

    def reindex(self, progress: Callable[[int, int], None] | None = None) -> dict[str, int]:
        """Rebuild the index from SQLite (vectors come from the cache when present)."""
        from assistant.core.vector_index import IndexError_

        with self._lock:
            if not self.ready and not self.settings.chroma_url and not self._take_lock():
                raise IndexError_(  # say so before spending seconds loading the embedder
                    "The index is in use by another running assistant.",
                    "Close the window (or the other `assistant` command) and try again.",
                )
            self.open()
            if self.index is None:
                raise IndexError_("The index is in use by another running assistant.")
            if self.index.url is None:
                # A fresh folder: dropping collections one by one leaves their files behind.
                self.index.wipe("rebuilt on request")
                self.index = VectorIndex(
                    self.index.path, self.embedder.name, self.embedder.dimension
                )
            else:
                for collection in SOURCES:
                    self.index.clear(collection)
            return self.sync(progress)

    # -- search -----------------------------------------------------------------

    def nearest(
        self, collection: str, qvec: np.ndarray, k: int, exclude_conversation: int | None = None
    ) -> list[tuple[int, float]]:
        """(row id, cosine) best first: through the index, or exactly over the cache as a guest."""
        prefix = SOURCES[collection][0]
        with self._lock:
            if self.index is not None:
                where: dict[str, Any] | None = None
                if exclude_conversation is not None and collection == "conversations":
                    where = {"conversation_id": {"$ne": exclude_conversation}}
                hits: list[Hit] = self.index.query(collection, qvec, k, where, ids_only=True)
                return [(int(h.id[len(prefix) :]), h.score) for h in hits]
        return self._exact_nearest(collection, qvec, k)

    def _exact_nearest(self, collection: str, qvec: np.ndarray, k: int) -> list[tuple[int, float]]:
        prefix = SOURCES[collection][0]
        rows = self.store.fetch(
            "SELECT key, vec FROM vectors WHERE model = ? AND key >= ? AND key < ?",
            (self.embedder.name, prefix, prefix + "\x7f"),
        )
        rows = [(key, blob) for key, blob in rows if key[len(prefix) :].isdigit()]
        if not rows:
            return []
        mat = np.frombuffer(b"".join(b for _, b in rows), dtype=np.float32).reshape(len(rows), -1)
        scores = mat @ qvec
        best = np.argsort(-scores)[:k]
        return [(int(rows[i][0][len(prefix) :]), float(scores[i])) for i in best]

    def cosine(
        self, collection: str, ids: list[int], texts: list[str], qvec: np.ndarray
    ) -> list[float]:
        prefix = SOURCES[collection][0]
        vecs = self.vectors([(f"{prefix}{i}", t) for i, t in zip(ids, texts, strict=True)])
        return [float(x) for x in vecs @ qvec]
