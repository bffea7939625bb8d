"""Memory benchmark: recall latency at scale, ingestion speed, recall@3 — ours vs the raw libraries.

    python bench/memory.py [--sizes 1000,10000,100000] [--queries 50]

1. Recall latency p50/p95 with 1k/10k/100k stored passages: "query only" is our
   whole hybrid search (vector index + FTS5 + reading back from SQLite + exact
   rescoring) for a ready query vector, "embed+query" adds embedding the
   question. The raw baseline is chromadb's own `collection.query` on the same
   collection (goal: ours p50 ≤ 10 ms query-only at 100k).
   Scale items are synthetic passages with random unit vectors (stored in the
   vector cache, so building the index needs no embedding).
2. Ingestion: real markdown files read, chunked, embedded and indexed by
   `MemoryService.add_documents`, ÷ the raw path (sentence-transformers encode
   + chromadb add of the same passages).
3. recall@3 over fact/question pairs written for this benchmark, with the
   facts stored among distractor memories.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from assistant.core.base.paths import Paths
from assistant.core.config.settings import MemorySettings
from assistant.core.documents.chunking import chunk_sections
from assistant.core.documents.readers import read_document
from assistant.core.history.store import HistoryStore
from assistant.core.memory import recall as recall_mod
from assistant.core.memory.embedder import Embedder
from assistant.core.memory.knowledge import Knowledge
from assistant.core.memory.service import MemoryService

PAIRS = [  # (what the user said, a paraphrased later question)
    ("My sister is called Maria and lives in Madrid.", "Who is my sibling?"),
    ("I am allergic to peanuts.", "Is there any food I must avoid?"),
    ("I work as a nurse at the city hospital.", "What is my job?"),
    ("My favourite film is Spirited Away.", "Which movie do I like best?"),
    ("I drive a blue Volvo.", "What car do I own?"),
    ("I play the cello in an amateur orchestra.", "Which instrument do I play?"),
    ("My daughter Emma turns seven in June.", "How old is my kid going to be?"),
    ("I am vegetarian.", "Do I eat meat?"),
    ("I live in Lyon.", "Which city is my home?"),
    ("My wifi password is on the fridge.", "Where did I put the network password?"),
    ("I run 5 km every Saturday morning.", "What exercise do I do at weekends?"),
    ("My dentist is Dr. Okafor.", "Who looks after my teeth?"),
    ("I speak Portuguese and German.", "Which languages do I know?"),
    ("I am afraid of flying.", "Do I like planes?"),
    ("My cat is called Pixel.", "What is my pet's name?"),
    ("I prefer tea over coffee.", "What hot drink do I like?"),
    ("My birthday is on 3 March.", "When was I born?"),
    ("I support Olympique Lyonnais.", "Which football team do I follow?"),
    ("I am learning to play chess.", "What game am I getting into?"),
    ("My partner is called Sam.", "Who is my significant other?"),
    ("I have a mortgage with Credit Mutuel.", "Which bank lent me money for the house?"),
    ("I take the 7:40 train to work.", "How do I commute?"),
    ("My blood type is O negative.", "What is my blood group?"),
    ("I grew up in Dakar.", "Where did I spend my childhood?"),
    ("I keep bees in the garden.", "Do I have any insects as a hobby?"),
]
DISTRACTORS = [
    "I bought a new umbrella last week.",
    "My neighbour has a red bicycle.",
    "I watched a documentary about volcanoes.",
    "The library closes at six on Fridays.",
    "I repainted the kitchen walls yellow.",
    "My laptop is three years old.",
    "I planted tulips in October.",
    "The bakery on the corner sells rye bread.",
]


def _service(root: Path, embedder: Embedder) -> MemoryService:
    paths = Paths(root / "config", root / "data", root / "cache").ensure()
    store = HistoryStore(paths.history_db)
    settings = MemorySettings()
    kn = Knowledge(store, paths, settings, embedder=embedder)
    return MemoryService(store, paths, settings, knowledge=kn)


def _words(rng: random.Random, n: int) -> str:
    syll = ["ka", "lo", "mi", "ren", "to", "sa", "vel", "dor", "pi", "nu", "ter", "gan"]
    return " ".join("".join(rng.choice(syll) for _ in range(rng.randint(1, 3))) for _ in range(n))


def _pct(xs: list[float], p: float) -> float:
    return float(np.percentile(np.array(xs) * 1000, p))


def scale(embedder: Embedder, n: int, queries: int) -> None:
    rng = random.Random(n)
    nprng = np.random.default_rng(n)
    with tempfile.TemporaryDirectory() as tmp:
        svc = _service(Path(tmp), embedder)
        store, dim, name = svc.store, embedder.dimension, embedder.name
        with store.transaction() as db:
            db.execute("INSERT INTO doc_sources (path, added_at) VALUES ('/bench', 0)")
            db.execute(
                "INSERT INTO documents (source_id, path, status, indexed_at)"
                " VALUES (1, '/bench/a.md', 'indexed', 0)"
            )
            vecs = nprng.standard_normal((n, dim)).astype(np.float32)
            vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
            for i in range(n):
                db.execute(
                    "INSERT INTO doc_chunks (id, document_id, ordinal, text) VALUES (?, 1, ?, ?)",
                    (i + 1, i, _words(rng, 60)),
                )
                db.execute(
                    "INSERT INTO vectors (key, model, vec) VALUES (?, ?, ?)",
                    (f"c{i + 1}", name, vecs[i].tobytes()),
                )
        t0 = time.perf_counter()
        svc.ensure_open()  # builds the chroma index from the cached vectors
        build = time.perf_counter() - t0
        svc.knowledge.close()
        from chromadb.api.client import SharedSystemClient

        SharedSystemClient.clear_system_cache()  # as a new process would see it
        svc = _service(Path(tmp), embedder)
        t0 = time.perf_counter()
        svc.ensure_open()  # what every start pays: open the index and diff it with SQLite
        reopen = time.perf_counter() - t0
        store = svc.store
        kn = svc.knowledge
        col = kn.index._collection("documents")
        qtexts = [_words(rng, 8) + "?" for _ in range(queries)]
        qvecs = embedder.embed(qtexts)
        raw, ours, full = [], [], []
        real_embed = kn.embed_queries
        for text, qv in zip(qtexts, qvecs, strict=True):
            t = time.perf_counter()
            col.query(query_embeddings=[qv], n_results=8, include=["distances"])
            raw.append(time.perf_counter() - t)
            kn.embed_queries = lambda _texts, qv=qv: np.stack([qv])  # type: ignore[method-assign]
            t = time.perf_counter()
            recall_mod.search(kn, text, ("document",), k=8, min_score={})
            ours.append(time.perf_counter() - t)
            kn.embed_queries = real_embed  # type: ignore[method-assign]
            t = time.perf_counter()
            recall_mod.search(kn, text, ("document",), k=8, min_score={})
            full.append(time.perf_counter() - t)
        print(
            f"{n:>7,} items  index built {build:6.1f} s ({n / build:,.0f}/s), reopened"
            f" {reopen:5.2f} s | "
            f"raw chroma p50 {_pct(raw, 50):5.2f} p95 {_pct(raw, 95):5.2f} ms | "
            f"ours query-only p50 {_pct(ours, 50):5.2f} p95 {_pct(ours, 95):5.2f} ms | "
            f"embed+query p50 {_pct(full, 50):5.2f} p95 {_pct(full, 95):5.2f} ms | "
            f"ours÷raw p50 {statistics.median(ours) / statistics.median(raw):.2f}"
        )
        svc.knowledge.close()
        store.close()


def ingestion(embedder: Embedder, files: int = 40) -> None:
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "docs"
        folder.mkdir()
        for f in range(files):
            body = "\n\n".join(
                f"## Part {p}\n\n" + ". ".join(_words(rng, 14) for _ in range(6)) + "."
                for p in range(8)
            )
            (folder / f"note-{f:03}.md").write_text(f"# Note {f}\n\n{body}\n")
        svc = _service(Path(tmp) / "home", embedder)
        svc.ensure_open()
        t = time.perf_counter()
        report = svc.add_documents([folder])
        ours = time.perf_counter() - t
        passages = [
            p.text for f in sorted(folder.iterdir()) for p in chunk_sections(read_document(f))
        ]
        client = chromadb.PersistentClient(
            str(Path(tmp) / "raw"), settings=ChromaSettings(anonymized_telemetry=False)
        )
        col = client.get_or_create_collection("raw", embedding_function=None)
        t = time.perf_counter()
        vecs = embedder.embed(passages)
        col.add(ids=[str(i) for i in range(len(passages))], embeddings=vecs)
        raw = time.perf_counter() - t
        print(
            f"ingestion: {report.chunks} passages from {files} files — ours {report.chunks / ours:,.0f}"
            f" passages/s (read + chunk + embed + SQLite + index), raw encode+add"
            f" {len(passages) / raw:,.0f}/s, ours÷raw throughput {raw / ours:.2f}"
        )
        svc.knowledge.close()
        svc.store.close()


def recall_at_3(embedder: Embedder) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        svc = _service(Path(tmp), embedder)
        for text in DISTRACTORS:
            svc.remember(text)
        facts = [svc.remember(fact) for fact, _ in PAIRS]
        svc.ensure_open()
        hits = 0
        misses = []
        for (_, question), fact in zip(PAIRS, facts, strict=True):
            top = [i.id for i in svc.search(question, ("memory",), k=3)]
            if fact.id in top:
                hits += 1
            else:
                misses.append(question)
        print(f"recall@3: {hits}/{len(PAIRS)} = {hits / len(PAIRS):.2f}")
        for q in misses:
            print(f"  missed: {q}")
        svc.knowledge.close()
        svc.store.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="1000,10000,100000")
    ap.add_argument("--queries", type=int, default=50)
    args = ap.parse_args()
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    with tempfile.TemporaryDirectory() as cache:
        embedder = Embedder(None, Path(cache))
        embedder.load()
        print(f"embedder {embedder.name}, {os.cpu_count()} CPUs")
        recall_at_3(embedder)
        ingestion(embedder)
        for n in (int(x) for x in args.sizes.split(",")):
            scale(embedder, n, args.queries)


if __name__ == "__main__":
    main()
