"""Documents: incremental indexing, citations to file and page, "not in your documents"."""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

import pytest
from chromadb.api.client import SharedSystemClient

from assistant.core.base.paths import get_paths
from assistant.core.base.types import Done, MemoryNotice, RecallNotice, TextChunk
from assistant.core.chat.service import ChatService
from assistant.core.config.settings import MemorySettings, Settings
from assistant.core.documents import store as documents
from assistant.core.documents.store import DocumentStore
from assistant.core.history.store import HistoryStore
from assistant.core.memory.knowledge import Knowledge
from assistant.core.memory.service import NOT_IN_DOCUMENTS, MemoryService
from tests.conftest import run_cli
from tests.helpers.documents import GARDEN, make_docs


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


GPL = (
    "GNU GENERAL PUBLIC LICENSE\nVersion 3, 29 June 2007\n\nEveryone is permitted to copy and "
    "distribute verbatim copies of this license document, but changing it is not allowed.\n"
)
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01" + bytes(range(256)) * 8


def make_inbox(folder: Path) -> Path:
    """What a new user's folder holds: text without extensions, gzip, and a few binaries."""
    folder.mkdir(parents=True)
    (folder / "GPL-3").write_text(GPL)
    (folder / "README").write_text("Read me first: the wifi password is on the fridge door.\n")
    (folder / "NOTES").write_text("Notes. The recycling bins go out every Tuesday evening.\n")
    (folder / "changes.txt.gz").write_bytes(gzip.compress(b"Version 2 fixed the alarm clock."))
    (folder / "blob").write_bytes(bytes(range(256)) * 8)  # binary, no extension
    (folder / "pics.gz").write_bytes(gzip.compress(JPEG))  # gzip, but not of text
    (folder / "TODO").write_bytes(b"")
    (folder / ".hidden-notes").write_text("left out on purpose, as hidden files are")
    (folder / ".git").mkdir()
    (folder / ".git" / "config").write_text("[core]\n")
    return folder


INBOX_INDEXED = ["GPL-3", "NOTES", "README", "changes.txt.gz"]
INBOX_SKIPPED = {
    "TODO": "TODO is an empty file.",
    "blob": "blob is not text (binary).",
    "pics.gz": "pics.gz is a compressed file that is not text (JPEG image).",
}


def test_text_files_are_indexed_by_content_and_every_file_left_out_has_a_reason(
    tmp_path, monkeypatch
):
    folder = make_inbox(tmp_path / "inbox")
    store = HistoryStore(get_paths().ensure().history_db)
    docs = DocumentStore(store)
    hashed: list[str] = []
    real_sha256 = documents.file_sha256
    monkeypatch.setattr(documents, "file_sha256", lambda p: hashed.append(p.name) or real_sha256(p))
    try:
        report = docs.scan([docs.add_source(folder)])
        assert sorted(Path(p).name for p in report.added) == INBOX_INDEXED
        assert {Path(p).name: why for p, why in report.skipped} == INBOX_SKIPPED
        assert "4 added" in report.summary() and "3 skipped" in report.summary()
        assert sorted(hashed) == INBOX_INDEXED  # binaries are judged from their first KB
        passages = dict(
            store.fetch(
                "SELECT d.path, group_concat(c.text, ' ') FROM doc_chunks c"
                " JOIN documents d ON d.id = c.document_id GROUP BY d.path"
            )
        )
        assert "verbatim copies" in passages[str(folder / "GPL-3")]
        assert "alarm clock" in passages[str(folder / "changes.txt.gz")]
        listed = {Path(d.path).name: (d.status, d.error) for d in docs.documents()}
        assert {n: e for n, (s, e) in listed.items() if s == "skipped"} == INBOX_SKIPPED
        assert ".hidden-notes" not in listed and "config" not in listed

        # A rescan stays incremental: nothing hashed or rewritten, the skips told again.
        rows = "SELECT path, status, error, indexed_at FROM documents ORDER BY path"
        before, hashed[:] = store.fetch(rows), []
        again = docs.scan()
        assert again.unchanged == 4 and again.added == again.updated == again.removed == []
        assert {Path(p).name: why for p, why in again.skipped} == INBOX_SKIPPED
        assert hashed == [] and store.fetch(rows) == before
        # A binary replaced by text is read on the next scan.
        (folder / "blob").write_text("Now it is a note about the garage door code 1234.")
        assert [Path(p).name for p in docs.scan().updated] == ["blob"]
    finally:
        store.close()


def test_cli_docs_add_reads_any_text_and_never_hides_what_it_left_out(tmp_path):
    folder = make_inbox(tmp_path / "inbox")
    bomb = folder / "huge.log.gz"  # 200 MB of text once unpacked: over the 50 MB limit
    with gzip.open(bomb, "wb", compresslevel=1) as f:
        block = b"the same line of log, again and again\n" * 25_000
        for _ in range(200 * 2**20 // len(block)):
            f.write(block)
    r = run_cli("docs", "add", str(folder))
    assert r.returncode == 0, r.stderr
    summary = r.stdout.splitlines()[0]
    assert summary.startswith("4 added") and "4 skipped" in summary, r.stdout
    for name, why in [
        *INBOX_SKIPPED.items(),
        ("huge.log.gz", "huge.log.gz is too large once decompressed (the limit is 50.0 MB)."),
    ]:
        assert f"  skipped {folder / name}: {why}" in r.stdout
    hits = json.loads(run_cli("docs", "search", "--json", "wifi password").stdout)
    assert Path(hits[0]["path"]).name == "README"
    hits = json.loads(run_cli("docs", "search", "--json", "verbatim copies license").stdout)
    assert Path(hits[0]["path"]).name == "GPL-3"
    listing = run_cli("docs", "list").stdout
    assert f"{folder}  (4 indexed, 4 skipped)" in listing
    assert f"    {folder / 'blob'}  skipped: blob is not text (binary)." in listing
    # A binary file named on its own is explained too, not "0 added, 0 skipped".
    photo = tmp_path / "camera" / "IMG_0001"
    photo.parent.mkdir()
    photo.write_bytes(JPEG)
    r = run_cli("docs", "add", str(photo))
    assert r.stdout.startswith("0 added") and "1 skipped" in r.stdout, r.stdout
    assert f"skipped {photo}: IMG_0001 is not text (JPEG image)." in r.stdout
    # A typo beside a good file adds neither: no source is left that was never scanned.
    good = tmp_path / "camera" / "caption"
    good.write_text("The boat is named Marigold.\n")
    r = run_cli("docs", "add", str(good), str(tmp_path / "no-such-file"))
    assert r.returncode == 1 and "does not exist" in r.stderr, r.stderr
    assert str(good) not in run_cli("docs", "list").stdout
