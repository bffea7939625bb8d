"""A damaged vector index repairs itself from SQLite, with one notice; doctor sees damage.

The index is big enough (> 1,000 passages) for chromadb to keep its HNSW graph in
files, so the damage is where users meet it: a flipped header of a vector segment made
every `docs search` fail with a traceback, `ask` drop memory in silence, `memory
reindex` fail too, and `doctor` say "ok".
"""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import run_cli

FILLER = 1_200  # passages with cached vectors (no embedding needed) around the real ones
DIM = 384  # all-MiniLM-L6-v2


def _filler(db: Path) -> None:
    """Passages of made-up documents, their vectors already in the cache."""
    rng = np.random.default_rng(7)
    con = sqlite3.connect(db)
    with con:
        src = con.execute(
            "INSERT INTO doc_sources (path, added_at) VALUES ('/filler', 0)"
        ).lastrowid
        for d in range(40):
            doc = con.execute(
                "INSERT INTO documents (source_id, path, status, indexed_at) VALUES (?, ?, 'indexed', 0)",
                (src, f"/filler/f{d}.txt"),
            ).lastrowid
            for k in range(FILLER // 40):
                cid = con.execute(
                    "INSERT INTO doc_chunks (document_id, ordinal, text) VALUES (?, ?, ?)",
                    (doc, k, f"filler passage {d}-{k} about nothing in particular"),
                ).lastrowid
                v = rng.standard_normal(DIM).astype(np.float32)
                v /= np.linalg.norm(v)
                con.execute(
                    "INSERT INTO vectors (key, model, vec) VALUES (?, 'all-MiniLM-L6-v2', ?)",
                    (f"c{cid}", v.tobytes()),
                )
    con.close()


def _hnsw_header(home: Path, collection: str) -> Path:
    index = home / "data" / "index"
    con = sqlite3.connect(index / "chroma.sqlite3")
    try:
        (seg,) = con.execute(
            "SELECT s.id FROM segments s JOIN collections c ON s.collection = c.id"
            " WHERE c.name = ? AND s.scope = 'VECTOR'",
            (collection,),
        ).fetchone()
    finally:
        con.close()
    return index / seg / "header.bin"


def _damage(header: Path) -> None:
    with header.open("r+b") as f:
        f.seek(8)
        f.write(b"\xff" * 16)


def _top(r) -> str:
    assert r.returncode == 0, r.stderr[-2000:]
    assert "Traceback" not in r.stderr
    return Path(json.loads(r.stdout)[0]["path"]).name


@pytest.fixture
def big_index(assistant_home, tmp_path) -> Path:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "kettle.md").write_text(
        "# Kettle\n\nDescale the kettle every month with citric acid.\n"
    )
    (docs / "garden.md").write_text("# Garden\n\nThe hose connector in the garden is copper.\n")
    (docs / "car.md").write_text("# Car\n\nThe winter tyres are stored in the cellar.\n")
    assert run_cli("docs", "add", str(docs)).returncode == 0
    _filler(assistant_home / "data" / "history.sqlite3")
    r = run_cli("docs", "search", "how often do I descale the kettle", "--json")
    assert _top(r) == "kettle.md"
    header = _hnsw_header(assistant_home, "documents")
    assert header.exists(), "chromadb kept no HNSW files; the index is too small to test"
    return header


@pytest.mark.slow
def test_a_damaged_index_is_rebuilt_at_the_next_search_with_one_notice(big_index):
    _damage(big_index)
    time.sleep(0.1)
    doctor = run_cli("doctor")
    line = [x for x in (doctor.stdout + doctor.stderr).splitlines() if "memory index" in x]
    assert doctor.returncode == 1 and line and line[0].lstrip().startswith("fail"), line
    assert "damaged" in line[0] and "memory reindex" in line[0]

    r = run_cli("docs", "search", "where are the winter tyres", "--json")
    assert _top(r) == "car.md"
    notices = [x for x in r.stderr.splitlines() if "rebuilt" in x]
    assert len(notices) == 1 and "damaged" in notices[0], r.stderr

    again = run_cli("docs", "search", "what is the hose connector made of", "--json")
    assert _top(again) == "garden.md"
    assert "rebuilt" not in again.stderr
    assert run_cli("doctor").returncode == 0


@pytest.mark.slow
def test_memory_reindex_and_ask_work_on_a_damaged_index(big_index):
    assert run_cli("memory", "add", "My dog is called Biscuit").returncode == 0
    _damage(big_index)
    r = run_cli("memory", "reindex")
    assert r.returncode == 0 and "Rebuilt the index" in r.stdout, r.stderr[-2000:]
    assert "Traceback" not in r.stderr

    _damage(_hnsw_header(big_index.parents[3], "documents"))
    r = run_cli("ask", "--json", "What is my dog called?")
    assert r.returncode == 0, r.stderr[-2000:]
    recalled = json.loads(r.stdout)["recalled"]
    assert any("Biscuit" in item["text"] for item in recalled), recalled  # memory not dropped


def test_first_use_after_one_shot_questions_is_not_reported_as_a_lost_index(assistant_home):
    """`memory add` and `ask` write cached vectors but no index; the window's first
    open builds it, and that is first use, not damage. A built index that is then
    deleted is reported."""
    from assistant.core.base.paths import get_paths
    from assistant.core.config.settings import MemorySettings
    from assistant.core.history.store import HistoryStore
    from assistant.core.memory.service import MemoryService

    assert run_cli("memory", "add", "My dog's name is Bruno").returncode == 0
    assert run_cli("ask", "What is my dog's name?", "--no-save").returncode == 0

    def open_notice() -> str | None:
        paths = get_paths().ensure()
        store = HistoryStore(paths.history_db)
        svc = MemoryService(store, paths, MemorySettings())
        said: list[str] = []
        svc.on_notice = said.append  # as the window shows it
        try:
            svc.ensure_open()
            return " ".join(said) or None
        finally:
            svc.knowledge.close()
            store.close()

    assert open_notice() is None, "first use read like damage"
    wipe = get_paths().data_dir / "index"
    import shutil

    shutil.rmtree(wipe)
    assert "missing" in (open_notice() or "")
