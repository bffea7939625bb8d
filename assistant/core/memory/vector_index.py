"""The vector index: chromadb, derived from SQLite and rebuildable at any time.

A manifest beside the index records its format and the embedding model that
filled it. A missing, corrupt or mismatched index is wiped and reported
(``rebuilt_reason``), so the caller re-adds everything from SQLite; nothing is
lost because nothing lives only here. chromadb is not process-safe: exactly
one process owns a given index folder.
"""

from __future__ import annotations

import contextlib
import json
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np

from assistant.core.base.errors import AssistantError
from assistant.core.base.files import MB, atomic_write, disk_full, free_bytes, is_disk_full
from assistant.core.history.faults import check_sqlite, one_line

log = logging.getLogger(__name__)

INDEX_VERSION = 1
REPAIR_HINT = "It is rebuilt at the next search, or now with `assistant memory reindex`."
_URL_HINT = (
    "Check memory.chroma_url (e.g. http://127.0.0.1:8000), or clear it to use the local index."
)


class IndexError_(AssistantError):
    """The vector index cannot be opened or reached."""


@dataclass(frozen=True)
class Hit:
    id: str
    score: float  # cosine similarity, 1 = same direction
    document: str
    metadata: dict[str, Any]


COLLECTIONS = ("memories", "documents", "conversations")
# Neighbours asked for when an item is looked up by its own vector (a health check).
SELF_CHECK_K = 3
# Cosine distance under which two vectors are the same (a text stored more than once).
SAME_VECTOR = 1e-4


def comes_back(key: str, ids: list[str], distances: list[float]) -> bool:
    """Whether an item queried by its own vector (``SELF_CHECK_K`` neighbours) came back:
    its id among them, or all of them identical to it: the same question asked in
    several conversations ties, and the index may list any of the ties first."""
    if key in ids:
        return True
    return len(ids) == SELF_CHECK_K and max(distances) < SAME_VECTOR


def sqlite_problem(path: Path) -> str | None:
    """Damage in chromadb's own database, found before chromadb opens it: its Rust core
    aborts the whole process (a panic, not an exception) on some damaged pages."""
    db = path / "chroma.sqlite3"
    if not db.exists():
        return None
    found = check_sqlite(db, quick=True)
    if found == "ok" or (free_bytes(path) or 0) < MB:
        return None  # on a full disk it may not even open: that is not damage
    return f"the index database is damaged ({one_line(found)})"


def wipe_folder(path: Path) -> None:
    """Delete an index folder (or whatever took its name) and chromadb's memory of it."""
    from chromadb.api.client import SharedSystemClient

    # chromadb caches open systems per path in-process; drop them with the files.
    SharedSystemClient.clear_system_cache()
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


class VectorIndex:
    """A local index folder, or a Chroma server when ``url`` is given."""

    def __init__(
        self, path: Path, embedder_name: str, dimension: int, url: str | None = None
    ) -> None:
        self.path = Path(path)
        self.url = url
        self.manifest = {"version": INDEX_VERSION, "embedder": embedder_name, "dim": dimension}
        self.rebuilt_reason: str | None = None
        # On a shared server our collections carry a prefix; the manifest is
        # kept as the metadata of a collection of its own.
        self.prefix = "assistant_" if url else ""
        self._collections: dict[str, Any] = {}
        self._client = self._open_remote(url) if url else self._open()

    def _open_remote(self, url: str) -> Any:
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise IndexError_(f"{url!r} is not a Chroma server URL.", _URL_HINT)
        try:
            client = chromadb.HttpClient(
                host=parts.hostname,
                port=parts.port or (443 if parts.scheme == "https" else 8000),
                ssl=parts.scheme == "https",
                settings=ChromaSettings(anonymized_telemetry=False),
            )
            client.heartbeat()
        except Exception as e:
            raise IndexError_(f"Cannot reach the Chroma server at {url} ({e}).", _URL_HINT) from e
        meta_name = self.prefix + "manifest"
        found = client.get_or_create_collection(meta_name, metadata={"created": 1}).metadata or {}
        found = {k: found.get(k) for k in self.manifest}
        if found != self.manifest:
            if found.get("embedder") is not None:
                self.rebuilt_reason = f"the index was built with {found.get('embedder')!r} (format {found.get('version')})"
            for name in COLLECTIONS:
                with contextlib.suppress(Exception):
                    client.delete_collection(self.prefix + name)
            client.delete_collection(meta_name)
            client.create_collection(meta_name, metadata=dict(self.manifest))
        return client

    def _manifest_problem(self) -> str | None:
        f = self.path / "manifest.json"
        if not self.path.exists():
            return None
        if not f.exists():
            return "the index has no manifest"
        try:
            found = json.loads(f.read_text())
        except (OSError, json.JSONDecodeError):
            return "the index manifest is unreadable"
        if found != self.manifest:
            return f"the index was built with {found.get('embedder')!r} (format {found.get('version')})"
        return None

    def _open(self) -> Any:
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        if self.path.exists() and not self.path.is_dir():
            self.wipe("the index folder is a file")
        problem = self._manifest_problem() or sqlite_problem(self.path)
        if problem:
            self.wipe(problem)
        self.path.mkdir(parents=True, exist_ok=True)
        settings = ChromaSettings(anonymized_telemetry=False, allow_reset=True)
        try:
            client = chromadb.PersistentClient(path=str(self.path), settings=settings)
            client.list_collections()
        except Exception as e:  # a corrupt sqlite or segment file
            if is_disk_full(e) or (free_bytes(self.path) or 0) < MB:
                # Not damage: nothing can be written. Wiping would lose a good index.
                raise disk_full(self.path) from e
            self.wipe(f"the index could not be opened ({type(e).__name__})")
            self.path.mkdir(parents=True, exist_ok=True)
            client = chromadb.PersistentClient(path=str(self.path), settings=settings)
        manifest = self.path / "manifest.json"
        if not manifest.exists() or json.loads(manifest.read_text() or "{}") != self.manifest:
            atomic_write(manifest, json.dumps(self.manifest))
        return client

    def wipe(self, reason: str) -> None:
        log.info("rebuilding the vector index: %s", reason)
        self.rebuilt_reason = reason
        self._collections.clear()
        wipe_folder(self.path)

    def _collection(self, name: str) -> Any:
        col = self._collections.get(name)
        if col is None:
            col = self._client.get_or_create_collection(
                self.prefix + name, embedding_function=None, metadata={"hnsw:space": "cosine"}
            )
            self._collections[name] = col
        return col

    def upsert(
        self,
        collection: str,
        ids: list[str],
        embeddings: Any,
        documents: list[str] | None = None,
        metadatas: list[dict[str, Any]] | None = None,
    ) -> None:
        if not ids:
            return
        self._collection(collection).upsert(
            ids=ids,
            embeddings=np.asarray(embeddings, dtype=np.float32),
            documents=documents,
            metadatas=metadatas or None,
        )

    def query(
        self,
        collection: str,
        embedding: Any,
        k: int = 5,
        where: dict[str, Any] | None = None,
        ids_only: bool = False,
    ) -> list[Hit]:
        """Nearest first; ``ids_only`` skips reading documents and metadata (faster)."""
        include = ["distances"] if ids_only else ["documents", "metadatas", "distances"]
        r = self._collection(collection).query(
            query_embeddings=[np.asarray(embedding, dtype=np.float32)],
            n_results=k,
            where=where,
            include=include,  # type: ignore[arg-type]
        )
        docs = r["documents"][0] if r.get("documents") else [None] * len(r["ids"][0])
        metas = r["metadatas"][0] if r.get("metadatas") else [None] * len(r["ids"][0])
        return [
            Hit(i, 1.0 - float(d), doc or "", meta or {})
            for i, d, doc, meta in zip(r["ids"][0], r["distances"][0], docs, metas, strict=True)
        ]

    def delete(self, collection: str, ids: list[str]) -> None:
        if ids:
            self._collection(collection).delete(ids=ids)

    def count(self, collection: str) -> int:
        return int(self._collection(collection).count())

    def ids(self, collection: str) -> set[str]:
        return set(self._collection(collection).get(include=[])["ids"])

    def clear(self, collection: str) -> None:
        self._collections.pop(collection, None)
        with contextlib.suppress(Exception):  # absent already
            self._client.delete_collection(self.prefix + collection)


def probe(path: Path, samples: dict[str, list[tuple[str, Any]]] | None = None) -> dict[str, int]:
    """Open a local index folder and query each collection (``doctor``).

    ``samples`` are items each collection must hold, with their vectors: each must
    come back for its own vector. Returns the number of items per collection;
    raises ``IndexError_`` saying what is wrong. The caller holds the index lock
    (chromadb is not process-safe).
    """
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    problem = sqlite_problem(path)
    if problem:
        raise IndexError_(f"The memory index in {path} is damaged: {problem}.", REPAIR_HINT)
    try:
        manifest = json.loads((path / "manifest.json").read_text())
        dim = int(manifest["dim"])
        client = chromadb.PersistentClient(
            path=str(path), settings=ChromaSettings(anonymized_telemetry=False)
        )
        counts: dict[str, int] = {}
        names = {c.name if hasattr(c, "name") else str(c) for c in client.list_collections()}
        probe_vec = np.zeros(dim, dtype=np.float32)
        probe_vec[0] = 1.0
        for name in COLLECTIONS:
            if name not in names:
                continue
            col = client.get_collection(name, embedding_function=None)
            counts[name] = int(col.count())
            if counts[name]:
                col.query(query_embeddings=[probe_vec], n_results=1, include=["distances"])
            for key, vec in (samples or {}).get(name, []):
                found = col.query(
                    query_embeddings=[vec], n_results=SELF_CHECK_K, include=["distances"]
                )
                if comes_back(key, found["ids"][0], found["distances"][0]):
                    continue
                # Not in the index at all: added by a guest (`assistant ask`) since the
                # owner's last sync, which adds it at the next search. Held but not found
                # by its own vector: its vector is lost.
                if col.get(ids=[key], include=[])["ids"]:
                    raise LookupError(f"{name} no longer finds item {key}")
        return counts
    except Exception as e:
        if is_disk_full(e) or (free_bytes(path) or 0) < MB:
            raise disk_full(path) from e  # not damage: it cannot be opened without space
        first = " ".join(str(e).split())
        if len(first) > 160:
            first = first[:160].rsplit(" ", 1)[0] + " …"
        raise IndexError_(
            f"The memory index in {path} is damaged ({type(e).__name__}: {first}).", REPAIR_HINT
        ) from e
    finally:
        from chromadb.api.client import SharedSystemClient

        SharedSystemClient.clear_system_cache()
