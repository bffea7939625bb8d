"""The derived side of memory: embeddings and the vector index, kept in step with SQLite.

SQLite holds every memory, passage and message, plus a cache of their
embedding vectors (``vectors``), so the chroma index can be rebuilt at any
time without re-embedding. One process owns a local index (an exclusive lock
file); another process (the CLI while the window runs) is a *guest*: it still
writes SQLite and vectors, searches by exact cosine over the cached vectors,
and the owner picks its changes up through ``index_epoch``.

The local index repairs itself: a failure inside it (open, sync, query), or a
sample item that no longer comes back for its own vector, means it is wiped and
rebuilt from SQLite once, with one notice.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from typing import IO, Any, TypeVar

import numpy as np

from assistant.core.base.errors import AssistantError, DiskFullError
from assistant.core.base.files import MB, free_bytes, is_disk_full
from assistant.core.base.paths import Paths
from assistant.core.config.settings import MemorySettings
from assistant.core.history.store import HistoryStore
from assistant.core.memory.embedder import Embedder
from assistant.core.memory.index_content import (
    SOURCES,
    IndexLost,
    mark_built,
    samples,
    take_index_lock,
    was_built,
)
from assistant.core.memory.vector_cache import BATCH, EMBED_CHARS, VectorCache
from assistant.core.memory.vector_index import (
    SELF_CHECK_K,
    Hit,
    VectorIndex,
    comes_back,
    wipe_folder,
)

log = logging.getLogger(__name__)

T = TypeVar("T")


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
        self.cache = VectorCache(store, self.embedder)
        self.index: VectorIndex | None = None  # None while loading, or as a guest
        self.guest = False
        self.notice: str | None = None  # shown once: "the index was rebuilt …"
        self._lock = threading.RLock()
        self._lock_file: IO[str] | None = None
        self._epoch = -1
        self._opened = threading.Event()
        # Another thread has been asked to open the index: until it has, searches go
        # exactly over the cached vectors instead of waiting for chromadb.
        self._opening = threading.Event()
        self._repairing = False
        self._repairs = 0  # how many times the index was rebuilt after damage
        # Told when a damaged index was rebuilt (the CLI prints it, the window shows it).
        self.on_repair: Callable[[], None] | None = None

    # -- opening ------------------------------------------------------------

    @property
    def ready(self) -> bool:
        return self._opened.is_set()

    def will_open(self) -> None:
        """A thread is about to call ``open``: searches need not wait for the index."""
        self._opening.set()

    def search_early(self) -> bool:
        """While another thread opens the index: load the embedder (about a second) so
        a search can go exactly over the cached vectors. False when nobody is opening it."""
        if not self._opening.is_set() or self.ready:
            return False
        self.embedder.load()
        return True

    def open(
        self, progress: Callable[[int, int], None] | None = None, as_guest: bool = False
    ) -> Knowledge:
        """Load the embedder, open (or rebuild) the index and bring it up to date.
        ``as_guest``: search the cached vectors exactly and leave the index alone (a
        one-shot command, for which opening chromadb costs more than the search)."""
        try:
            return self._open(progress, as_guest)
        finally:
            if not self.ready:  # it failed: the next recall tries to open it itself
                self._opening.clear()

    def _open(self, progress: Callable[[int, int], None] | None, as_guest: bool) -> Knowledge:
        with self._lock:
            if self._opened.is_set():
                return self
            url = self.settings.chroma_url
            owner = bool(url) or (not as_guest and self._take_lock())
            self.embedder.load()
            if owner:
                path = self.paths.data_dir / "index"
                existed = (path / "manifest.json").exists()
                try:
                    self.index = self._new_index(url)
                except DiskFullError:
                    # Searching still works, exactly, over the vectors SQLite keeps.
                    log.info("the disk is full: searching without the index")
                    self.guest = True
                    self._opened.set()
                    return self
                if self.index.rebuilt_reason:
                    self.notice = f"The memory index was rebuilt ({self.index.rebuilt_reason})."
                elif not url and not existed and was_built(self.paths.data_dir):
                    self.notice = "The memory index was missing; it was rebuilt from the database."
                self.sync(progress)
                self._verify()
                if not url:
                    mark_built(self.paths.data_dir)
            else:
                self.guest = True
                log.info(
                    "searching the cached vectors (the index is %s)",
                    "left alone" if as_guest else "another process's",
                )
                self.vectors([(f"m{r[0]}", r[1]) for r in self._rows("memories")])
            self._opened.set()
        return self

    def _new_index(self, url: str | None = None) -> VectorIndex:
        path = self.paths.data_dir / "index"
        return VectorIndex(path, self.embedder.name, self.embedder.dimension, url)

    # -- self-repair --------------------------------------------------------------

    def _guarded(self, call: Callable[[VectorIndex], T]) -> T | None:
        """``call`` on the local index. Any failure in there means the index is damaged
        (it holds nothing SQLite lacks): it is wiped, rebuilt from SQLite and ``call``
        tried once more. None when there is no index (a guest, or it could not be rebuilt)."""
        with self._lock:
            index = self.index
            if index is None:
                return None
            try:
                return call(index)
            except Exception as e:
                if not self._repair(index, e):
                    raise
            if self.index is None:
                return None
            return call(self.index)

    def _repair(self, index: VectorIndex, error: Exception) -> bool:
        """Rebuild a damaged local index; False when it is not ours to rebuild."""
        if index.url is not None or isinstance(error, AssistantError) or self._repairing:
            return False  # a server's errors are reported, not wiped; no repair inside a repair
        if is_disk_full(error) or (free_bytes(self.paths.data_dir) or 0) < MB:
            return False  # a full disk, not damage: the index may be fine
        log.info(  # the user is told by the notice
            "the memory index is damaged (%s: %s); rebuilding it", type(error).__name__, error
        )
        self._repairing = True
        try:
            index.wipe(f"damaged: {type(error).__name__}")
            self.index = self._new_index()
            self._repairs += 1
            self.sync()
            self.notice = "The memory index was damaged; it was rebuilt from the database."
        except Exception as e:
            log.info("could not rebuild the memory index: %s", e, exc_info=True)
            self.index = None  # searches use the cached vectors meanwhile
            self.guest = True
            self.notice = (
                f"The memory index is damaged and could not be rebuilt ({type(e).__name__}); "
                "searching without it. Run `assistant memory reindex`."
            )
        finally:
            self._repairing = False
        if self.on_repair:
            self.on_repair()
        return True

    def _verify(self) -> None:
        """Ask the index for items it must hold, by their own vectors: a lost or garbled
        vector segment answers without error but with the wrong items."""
        if self.index is None or self.index.url is not None:
            return
        for collection in SOURCES:
            if collection == "conversations" and not self.settings.recall_conversations:
                continue
            for key, vec in samples(self.store, collection, self.embedder.name):
                hits = self._guarded(
                    lambda ix, c=collection, v=vec: ix.query(c, v, SELF_CHECK_K, ids_only=True)
                )
                ids, distances = [h.id for h in hits or ()], [1.0 - h.score for h in hits or ()]
                if hits is not None and not comes_back(key, ids, distances):
                    self._repair(self.index, IndexLost(f"{collection} lost {key}"))
                    return

    def take_notice(self) -> str | None:
        """The notice to show once (an index rebuilt at open or after damage)."""
        notice, self.notice = self.notice, None
        return notice

    def open_within(self, timeout: float, as_guest: bool = False) -> bool:
        """Open, waiting at most ``timeout`` s for another thread that is opening it."""
        if not self._lock.acquire(timeout=timeout):
            return False
        try:
            self.open(as_guest=as_guest)
        finally:
            self._lock.release()
        return True

    def _take_lock(self) -> bool:
        if self._lock_file is not None:
            return True
        owned, self._lock_file = take_index_lock(self.paths.data_dir)
        return owned

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
        return self.cache.vectors(keyed_texts)

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
        if not self.ready:
            return  # opening brings the index up to date
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
        repairs = self._repairs
        with self._lock:
            if self.index is None:
                return 0
            # Ids first: at 100k passages, reading every text just to diff would be ~100 MB.
            wanted = {f"{prefix}{r[0]}" for r in self.store.fetch(f"SELECT id FROM ({sql})")}
            have = self._guarded(lambda ix: ix.ids(collection))
            if have is None or self._repairs != repairs:
                return len(wanted)  # rebuilt meanwhile (by a full sync), or no index left
            stale = sorted(have - wanted)
            self._guarded(lambda ix: ix.delete(collection, stale))
        todo = sorted(wanted - have, key=lambda k: int(k[len(prefix) :]))
        for start in range(0, len(todo), BATCH):
            if self._repairs != repairs:
                break  # a repair re-synced everything
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
        self._guarded(lambda ix: ix.upsert(collection, keys, vecs, metadatas=metas))

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
        """Rebuild the index from SQLite (vectors come from the cache when present).

        A local index is wiped before it is opened: a damaged one may fail on open
        or on its first query, and must not stand in the way of its own rebuild."""
        from assistant.core.memory.vector_index import IndexError_

        with self._lock:
            url = self.settings.chroma_url
            if not self.ready and not url and not self._take_lock():
                raise IndexError_(  # say so before spending seconds loading the embedder
                    "The index is in use by another running assistant.",
                    "Close the window (or the other `assistant` command) and try again.",
                )
            if url:
                self.open()
                if self.index is not None:
                    for collection in SOURCES:
                        self.index.clear(collection)
            else:
                # A fresh folder: dropping collections one by one leaves their files behind.
                if self.index is not None:
                    self.index.wipe("rebuilt on request")
                else:
                    wipe_folder(self.paths.data_dir / "index")
                self.close_index()
                self.open()
            if self.index is None:
                raise IndexError_("The index could not be opened for rebuilding.")
            return self.sync(progress)

    def close_index(self) -> None:
        """Forget the open index (keeping the lock), so the next ``open`` makes a new one."""
        self.index = None
        self.guest = False
        self._opened.clear()
        self._opening.clear()

    # -- search -----------------------------------------------------------------

    def nearest(
        self, collection: str, qvec: np.ndarray, k: int, exclude_conversation: int | None = None
    ) -> list[tuple[int, float]]:
        """(row id, cosine) best first: through the index, or exactly over the cache as a
        guest and while the index is still opening."""
        if not self.ready:
            return self._exact_nearest(collection, qvec, k)
        prefix = SOURCES[collection][0]
        where: dict[str, Any] | None = None
        if exclude_conversation is not None and collection == "conversations":
            where = {"conversation_id": {"$ne": exclude_conversation}}
        hits: list[Hit] | None = self._guarded(
            lambda ix: ix.query(collection, qvec, k, where, ids_only=True)
        )
        if hits is not None:
            return [(int(h.id[len(prefix) :]), h.score) for h in hits]
        return self._exact_nearest(collection, qvec, k)

    def _exact_nearest(self, collection: str, qvec: np.ndarray, k: int) -> list[tuple[int, float]]:
        return self.cache.nearest(SOURCES[collection][0], qvec, k)

    def cosine(
        self, collection: str, ids: list[int], texts: list[str], qvec: np.ndarray
    ) -> list[float]:
        prefix = SOURCES[collection][0]
        vecs = self.vectors([(f"{prefix}{i}", t) for i, t in zip(ids, texts, strict=True)])
        return [float(x) for x in vecs @ qvec]
