"""The embedding cache in SQLite (``vectors``): what makes the index rebuildable in seconds.

Keys are ``m<id>`` (memory), ``c<id>`` (document passage) and ``h<id>`` (a past
question); each vector is float32, L2-normalised, tagged with the model that made
it. Triggers delete a row's vector with the row. A guest process, or one whose
index is gone, searches here exactly.
"""

from __future__ import annotations

import numpy as np

from assistant.core.history.store import HistoryStore
from assistant.core.memory.embedder import Embedder

EMBED_CHARS = 2000  # the embedder truncates at 256 word pieces anyway
BATCH = 64  # passages embedded per step (~2.5 s on 2 cores): answers get the lock in between
_PARAMS = 900  # SQLite's parameter limit, with room to spare


class VectorCache:
    def __init__(self, store: HistoryStore, embedder: Embedder) -> None:
        self.store = store
        self.embedder = embedder

    def vectors(self, keyed_texts: list[tuple[str, str]]) -> np.ndarray:
        """Vectors for (key, text) pairs: from the cache, embedding (and keeping) what is missing."""
        dim = self.embedder.dimension
        out = np.zeros((len(keyed_texts), dim), dtype=np.float32)
        if not keyed_texts:
            return out
        cached = self.cached([k for k, _ in keyed_texts])
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

    def cached(self, keys: list[str]) -> dict[str, np.ndarray]:
        dim = self.embedder.dimension
        found = dict(self.read(self.store, self.embedder.name, keys))
        return {k: v for k, v in found.items() if v.shape == (dim,)}

    @staticmethod
    def read(store: HistoryStore, model: str, keys: list[str]) -> list[tuple[str, np.ndarray]]:
        """The cached vectors of ``keys`` made by ``model`` (no embedder needed)."""
        out: list[tuple[str, np.ndarray]] = []
        for start in range(0, len(keys), _PARAMS):
            part = keys[start : start + _PARAMS]
            marks = ",".join("?" * len(part))
            for key, blob in store.fetch(
                f"SELECT key, vec FROM vectors WHERE model = ? AND key IN ({marks})", (model, *part)
            ):
                out.append((key, np.frombuffer(blob, dtype=np.float32)))
        return out

    def nearest(self, prefix: str, qvec: np.ndarray, k: int) -> list[tuple[int, float]]:
        """(row id, cosine) best first, exactly, over every cached vector of one kind."""
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
