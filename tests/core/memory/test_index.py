"""The embedder (real all-MiniLM-L6-v2) and the vector index (real chromadb)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from assistant.core.base.errors import ModelError
from assistant.core.memory.embedder import Embedder
from assistant.core.memory.vector_index import VectorIndex

FACTS = [
    "The user's sister is called Maria and lives in Madrid.",
    "The user is allergic to peanuts.",
    "The user works as a nurse at the city hospital.",
    "The user's favourite film is Spirited Away.",
    "The user drives a blue Volvo.",
]
QUESTIONS = [  # paraphrases, one per fact, same order
    "Who is my sibling and where does she live?",
    "Is there any food I must avoid?",
    "What is my job?",
    "Which movie do I like most?",
    "What car do I have?",
]


def test_embeddings_are_normalised_and_paraphrases_match(embedder):
    facts = embedder.embed(FACTS)
    questions = embedder.embed(QUESTIONS)
    assert facts.shape == (5, embedder.dimension) and facts.dtype == np.float32
    assert np.allclose(np.linalg.norm(facts, axis=1), 1.0, atol=1e-4)
    best = (questions @ facts.T).argmax(axis=1)
    assert best.tolist() == [0, 1, 2, 3, 4]


def test_index_round_trip_delete_and_recall(embedder, tmp_path):
    idx = VectorIndex(tmp_path / "index", embedder.name, embedder.dimension)
    assert idx.rebuilt_reason is None
    ids = [f"m{i}" for i in range(len(FACTS))]
    idx.upsert("memories", ids, embedder.embed(FACTS), FACTS, [{"n": i} for i in range(5)])
    assert idx.count("memories") == 5
    for i, q in enumerate(QUESTIONS):
        hits = idx.query("memories", embedder.embed([q])[0], k=3)
        assert hits[0].id == f"m{i}" and hits[0].document == FACTS[i]
        assert 0 < hits[0].score <= 1 and hits[0].metadata == {"n": i}
    idx.delete("memories", ["m1"])
    assert "m1" not in idx.ids("memories")
    hits = idx.query("memories", embedder.embed([QUESTIONS[1]])[0], k=5)
    assert all(h.id != "m1" for h in hits)


def test_mismatched_or_corrupt_index_is_rebuilt_empty(embedder, tmp_path):
    path = tmp_path / "index"
    idx = VectorIndex(path, embedder.name, embedder.dimension)
    idx.upsert("memories", ["a"], embedder.embed(["hello"]), ["hello"])
    del idx
    other = VectorIndex(path, "another-model", 512)
    assert "another-model" not in (other.rebuilt_reason or "x")
    assert "all-MiniLM-L6-v2" in (other.rebuilt_reason or "")
    assert other.count("memories") == 0
    del other
    # Garbage where chroma keeps its database: detected, wiped, usable again.
    for f in path.glob("*.sqlite3"):
        f.write_bytes(b"not a database" * 100)
    manifest = {"version": 1, "embedder": embedder.name, "dim": embedder.dimension}
    (path / "manifest.json").write_text(json.dumps(manifest))  # only the data is bad
    from chromadb.api.client import SharedSystemClient

    SharedSystemClient.clear_system_cache()  # as in a fresh process
    again = VectorIndex(path, embedder.name, embedder.dimension)
    assert again.rebuilt_reason is not None and "damaged" in again.rebuilt_reason
    again.upsert("memories", ["b"], embedder.embed(["world"]), ["world"])
    assert again.count("memories") == 1


def test_bad_embedding_model_folder(tmp_path):
    (tmp_path / "junk").mkdir()
    e = Embedder(str(tmp_path / "junk"), tmp_path)
    with pytest.raises(ModelError, match="not a sentence-transformers model folder"):
        e.embed(["x"])
