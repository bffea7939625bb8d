"""Documents: incremental indexing, citations to file and page, "not in your documents"."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from chromadb.api.client import SharedSystemClient
from fpdf import FPDF

from assistant.core.chat import ChatService
from assistant.core.history import HistoryStore
from assistant.core.knowledge import Knowledge
from assistant.core.memory_service import NOT_IN_DOCUMENTS, MemoryService
from assistant.core.paths import get_paths
from assistant.core.settings import MemorySettings, Settings
from assistant.core.types import Done, MemoryNotice, RecallNotice, TextChunk
from tests.conftest import run_cli

KETTLE_PAGES = [
    "Orion Kettle User Guide. Thank you for buying the Orion electric kettle. "
    "Read these instructions before first use.",
    "Descaling. Descale the kettle every four weeks. Fill it with equal parts white vinegar "
    "and water, boil, and leave it for one hour. Rinse twice with clean water.",
    "Warranty. The Orion kettle has a warranty of three years from the date of purchase. "
    "Keep your receipt. The warranty does not cover damage from dropping the kettle.",
]
GARDEN = (
    "# Garden notes\n\n## Tomatoes\n\nPlant tomatoes in late May, 60 cm apart. Water them at "
    "the base every morning.\n\n## Roses\n\nPrune the roses in early March, just above an "
    "outward-facing bud.\n"
)


def make_docs(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    pdf = FPDF()
    pdf.set_font("Helvetica", size=12)
    for text in KETTLE_PAGES:
        pdf.add_page()
        pdf.multi_cell(0, 8, text)
    pdf.output(str(folder / "kettle-guide.pdf"))
    (folder / "garden.md").write_text(GARDEN)
    (folder / "broken.pdf").write_bytes(b"%PDF-1.4 not really" * 20)
    (folder / "photo.txt").write_bytes(b"\x00\x01\x02binary" * 50)
    return folder


@pytest.fixture
def svc(embedder):
    paths = get_paths().ensure()
    store = HistoryStore(paths.history_db)
    settings = MemorySettings()
    s = MemoryService(store, paths, settings, Knowledge(store, paths, settings, embedder=embedder))
    yield s
    s.knowledge.close()
    store.close()
    SharedSystemClient.clear_system_cache()


def test_citations_point_at_the_right_file_and_page(svc, tmp_path):
    folder = make_docs(tmp_path / "docs")
    report = svc.add_documents([folder])
    assert sorted(Path(p).name for p in report.added) == ["garden.md", "kettle-guide.pdf"]
    skipped = {Path(p).name: why for p, why in report.skipped}
    assert "damaged" in skipped["broken.pdf"] and "binary" in skipped["photo.txt"]
    hits = svc.search("How often should I descale the kettle?", ("document",))
    assert (Path(hits[0].path).name, hits[0].page) == ("kettle-guide.pdf", 2)
    assert hits[0].label == "kettle-guide.pdf, page 2"
    hits = svc.search("How long is the guarantee?", ("document",))
    assert (Path(hits[0].path).name, hits[0].page) == ("kettle-guide.pdf", 3)
    hits = svc.search("descale", ("document",))  # one word: the exact-term match counts
    assert hits and hits[0].page == 2
    hits = svc.search("When should roses be pruned?", ("document",))
    assert Path(hits[0].path).name == "garden.md" and hits[0].heading == "Garden notes > Roses"
    assert svc.search("Who won the 1998 football world cup?", ("document",)) == []


def test_incremental_rescan_and_removal(svc, tmp_path):
    folder = make_docs(tmp_path / "docs")
    svc.add_documents([folder])
    again = svc.rescan()
    assert again.added == again.updated == [] and again.unchanged == 2
    os.utime(folder / "garden.md")  # touched, same content: not re-read
    assert svc.rescan().updated == []
    (folder / "garden.md").write_text(GARDEN.replace("late May", "mid June"))
    (folder / "notes.txt").write_text("The bike lock code is 4711.")
    r = svc.rescan()
    assert [Path(p).name for p in r.updated] == ["garden.md"]
    assert [Path(p).name for p in r.added] == ["notes.txt"]
    hit = svc.search("When do I plant tomatoes?", ("document",))[0]
    assert "mid June" in hit.text
    (folder / "notes.txt").unlink()
    assert [Path(p).name for p in svc.rescan().removed] == ["notes.txt"]
    assert svc.search("What is the bike lock code?", ("document",)) == []
    # One file of the folder removed: it stays out on the next rescan.
    assert svc.remove_documents(folder / "garden.md") == [str(folder / "garden.md")]
    assert svc.search("When do I plant tomatoes?", ("document",)) == []
    assert svc.rescan().added == []
    assert svc.search("When do I plant tomatoes?", ("document",)) == []
    assert "garden.md" not in {Path(d.path).name for d in svc.documents.documents()}
    # Added again (the file alone): it comes back under its folder, no second source.
    svc.add_documents([folder / "garden.md"])
    assert "mid June" in svc.search("When do I plant tomatoes?", ("document",))[0].text
    assert [p for _, p in svc.documents.sources()] == [str(folder)]
    removed = svc.remove_documents(folder)
    assert sorted(Path(p).name for p in removed) == ["garden.md", "kettle-guide.pdf"]
    assert svc.knowledge.index.count("documents") == 0
    assert svc.store.fetch("SELECT COUNT(*) FROM doc_chunks")[0][0] == 0


def _run(chunks):
    text, notices, done = "", [], None
    for c in chunks:
        if isinstance(c, TextChunk):
            text += c.text
        elif isinstance(c, RecallNotice | MemoryNotice):
            notices.append(c)
        elif isinstance(c, Done):
            done = c
    return text, notices, done


def test_chat_answers_from_documents_with_sources_or_says_it_does_not_know(
    svc, engine, greedy, tmp_path
):
    svc.add_documents([make_docs(tmp_path / "docs")])
    chat = ChatService(svc.store, engine, Settings(), svc)
    conv = chat.new_conversation()
    text, notices, done = _run(
        chat.send(conv.id, "How long is the kettle's warranty?", params=greedy, documents_only=True)
    )
    (recall,) = [n for n in notices if isinstance(n, RecallNotice)]
    assert recall.items[0]["label"] == "kettle-guide.pdf, page 3"
    assert done.finish_reason in ("stop", "length") and text
    answer = svc.store.thread(conv.id)[-1]
    assert answer.stats["recall"][0]["page"] == 3  # kept with the answer for the window
    assert answer.stats["prompt"]["context_tokens"] > 0
    text, notices, done = _run(
        chat.send(conv.id, "What is the boiling point of mercury?", documents_only=True)
    )
    assert text == NOT_IN_DOCUMENTS and notices == []
    assert svc.store.thread(conv.id)[-1].content == NOT_IN_DOCUMENTS


def test_remember_in_chat_and_recall_in_another_conversation(svc, engine, greedy):
    chat = ChatService(svc.store, engine, Settings(), svc)
    first = chat.new_conversation()
    text, notices, _ = _run(chat.send(first.id, "Remember that my dog is called Biscuit."))
    assert "The user's dog is called Biscuit." in text
    assert notices[0].saved[0][1] == "The user's dog is called Biscuit."
    second = chat.new_conversation()
    _, notices, _ = _run(chat.send(second.id, "What is my dog's name?", params=greedy))
    (recall,) = [n for n in notices if isinstance(n, RecallNotice)]
    assert recall.items[0]["text"] == "The user's dog is called Biscuit."
    assert recall.items[0]["conversation_id"] == first.id  # provenance
    # The "remember that" exchange itself is not recalled as a past question.
    assert [i["kind"] for i in recall.items] == ["memory"]


def test_cli_docs_and_memory_commands(tmp_path):
    folder = make_docs(tmp_path / "docs")
    r = run_cli("docs", "add", str(folder))
    assert r.returncode == 0, r.stderr
    assert "2 added" in r.stdout and "broken.pdf" in r.stdout and "damaged" in r.stdout
    r = run_cli("docs", "search", "--json", "how often to descale")
    hits = json.loads(r.stdout)
    assert hits[0]["page"] == 2 and hits[0]["path"].endswith("kettle-guide.pdf")
    assert hits[0]["score"] >= hits[-1]["score"]
    r = run_cli("ask", "--docs", "--json", "How long is the kettle warranty?")
    out = json.loads(r.stdout)
    assert out["citations"][0]["label"] == "kettle-guide.pdf, page 3"
    r = run_cli("ask", "--docs", "--json", "Who painted the Mona Lisa?")
    out = json.loads(r.stdout)
    assert out["answer"] == NOT_IN_DOCUMENTS and out["citations"] == []
    assert run_cli("memory", "add", "I live in Lyon").returncode == 0
    r = run_cli("memory", "add", "I live in Paris")
    assert "replaces" in r.stdout and "Lyon" in r.stdout
    r = run_cli("memory", "search", "--json", "where is my home")
    assert json.loads(r.stdout)[0]["text"] == "The user lives in Paris."
    listed = json.loads(run_cli("memory", "list", "--json").stdout)
    assert [m["text"] for m in listed] == ["The user lives in Paris."]
    assert run_cli("memory", "forget", str(listed[0]["id"])).returncode == 0
    assert json.loads(run_cli("memory", "list", "--status", "all", "--json").stdout) == []
    r = run_cli("memory", "reindex")
    assert r.returncode == 0 and "0 memories, 5 document passages" in r.stdout, r.stdout + r.stderr
    r = run_cli("docs", "remove", str(tmp_path / "nowhere"))
    assert r.returncode == 1 and "not among your documents" in r.stderr
    assert "Traceback" not in r.stderr
