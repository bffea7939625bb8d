"""The vector index: chromadb, derived from SQLite and rebuildable at any time.

A manifest beside the index records its format and the embedding model that
filled it. A missing, corrupt or mismatched index is wiped and reported
(``rebuilt_reason``), so the caller re-adds everything from SQLite; nothing is
lost because nothing lives only here. chromadb is not process-safe: exactly
one process owns a given index folder.
"""

from __future__ import annotations

import json
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

INDEX_VERSION = 1


@dataclass(frozen=True)
class Hit:
    id: str
    score: float  # cosine similarity, 1 = same direction
    document: str
    metadata: dict[str, Any]


class VectorIndex:
    def __init__(self, path: Path, embedder_name: str, dimension: int) -> None:
        self.path = Path(path)
        self.manifest = {"version": INDEX_VERSION, "embedder": embedder_name, "dim": dimension}
        self.rebuilt_reason: str | None = None
        self._client = self._open()

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

        problem = self._manifest_problem()
        if problem:
            self._wipe(problem)
        self.path.mkdir(parents=True, exist_ok=True)
        settings = ChromaSettings(anonymized_telemetry=False, allow_reset=True)
        try:
            client = chromadb.PersistentClient(path=str(self.path), settings=settings)
            client.list_collections()
        except Exception as e:  # a corrupt sqlite or segment file
            self._wipe(f"the index could not be opened ({type(e).__name__})")
            self.path.mkdir(parents=True, exist_ok=True)
            client = chromadb.PersistentClient(path=str(self.path), settings=settings)
        (self.path / "manifest.json").write_text(json.dumps(self.manifest))
        return client

    def _wipe(self, reason: str) -> None:
        from chromadb.api.client import SharedSystemClient

        log.warning("rebuilding the vector index: %s", reason)
        self.rebuilt_reason = reason
        # chromadb caches open systems per path in-process; drop them with the files.
        SharedSystemClient.clear_system_cache()
        shutil.rmtree(self.path, ignore_errors=True)

    def _collection(self, name: str) -> Any:
        return self._client.get_or_create_collection(
            name, embedding_function=None, metadata={"hnsw:space": "cosine"}
        )

    def upsert(
        self,
        collection: str,
        ids: list[str],
        embeddings: Any,
        documents: list[str],
        metadatas: list[dict[str, Any]] | None = None,
    ) -> None:
        if not ids:
            return
        self._collection(collection).upsert(
            ids=ids,
            embeddings=[list(map(float, v)) for v in embeddings],
            documents=documents,
            metadatas=metadatas or None,
        )

    def query(
        self, collection: str, embedding: Any, k: int = 5, where: dict[str, Any] | None = None
    ) -> list[Hit]:
        col = self._collection(collection)
        n = col.count()
        if n == 0:
            return []
        r = col.query(
            query_embeddings=[list(map(float, embedding))],
            n_results=min(k, n),
            where=where,
            include=["documents", "metadatas", "distances"],
        )
        return [
            Hit(i, 1.0 - float(d), doc or "", meta or {})
            for i, d, doc, meta in zip(
                r["ids"][0], r["distances"][0], r["documents"][0], r["metadatas"][0], strict=True
            )
        ]

    def delete(self, collection: str, ids: list[str]) -> None:
        if ids:
            self._collection(collection).delete(ids=ids)

    def count(self, collection: str) -> int:
        return int(self._collection(collection).count())

    def ids(self, collection: str) -> set[str]:
        return set(self._collection(collection).get(include=[])["ids"])

    def clear(self, collection: str) -> None:
        import contextlib

        with contextlib.suppress(Exception):  # absent already
            self._client.delete_collection(collection)
