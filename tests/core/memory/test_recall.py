"""Memory and documents end to end: real embedder, real chromadb, real SQLite."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time

import pytest
from chromadb.api.client import SharedSystemClient

from assistant.core.base.paths import get_paths
from assistant.core.config.settings import MemorySettings
from assistant.core.history.store import HistoryStore
from assistant.core.memory.knowledge import Knowledge
from assistant.core.memory.remember import to_second_person
from assistant.core.memory.service import MemoryService
from tests.conftest import free_port

FACTS = [
    "My sister is called Maria and she lives in Madrid.",
    "I am allergic to peanuts.",
    "I work as a nurse at the city hospital.",
    "My favourite film is Spirited Away.",
    "I drive a blue Volvo.",
    "I play the cello in an amateur orchestra.",
]
QUESTIONS = [  # paraphrases, one per fact, same order
    "Who is my sibling and where does she live?",
    "Is there any food I must avoid?",
    "What is my job?",
    "Which movie do I like most?",
    "What car do I have?",
    "Which instrument do I play?",
]
UNRELATED = ["What is the capital of Peru?", "Write a haiku about the sea.", "How do I bake bread?"]


def _service(embedder, **settings) -> MemoryService:
    paths = get_paths().ensure()
    store = HistoryStore(paths.history_db)
    mem_settings = MemorySettings(**settings)
    kn = Knowledge(store, paths, mem_settings, embedder=embedder)
    return MemoryService(store, paths, mem_settings, knowledge=kn)


def _close(svc: MemoryService) -> None:
    svc.knowledge.close()
    svc.store.close()
    SharedSystemClient.clear_system_cache()  # as a new process would see it


def _memories(recall) -> list[str]:
    return [i.text for i in recall.items if i.kind == "memory"] if recall else []


def test_paraphrased_questions_recall_the_right_fact_and_nothing_for_unrelated(embedder):
    svc = _service(embedder)
    for fact in FACTS:
        svc.remember(fact)
    for fact, question in zip(FACTS, QUESTIONS, strict=True):
        got = svc.recall_for(question, None)
        assert got is not None and got.items, question
        first = got.items[0]
        assert first.kind == "memory"
        assert first.text == svc.remember(fact).text, (question, got.items)
        assert got.context and to_second_person(first.text) in got.context
    for question in UNRELATED:
        assert _memories(svc.recall_for(question, None)) == [], question
    _close(svc)


def test_supersession_recalls_only_the_newest_fact(embedder):
    svc = _service(embedder)
    old = svc.remember("I live in Lyon.")
    new = svc.remember_command("Remember that I live in Paris now.", None)
    assert new is not None and new.text == "The user lives in Paris now."
    assert svc.memories.get(old.id).status == "superseded"
    assert [m.id for m in svc.memories.history(new.id)] == [new.id, old.id]
    recalled = _memories(svc.recall_for("Where do I live?", None))
    assert recalled == ["The user lives in Paris now."]
    # An unrelated fact does not supersede anything.
    svc.remember("I have two cats.")
    assert svc.memories.get(new.id).status == "active"
    _close(svc)


def test_forget_removes_from_sqlite_vectors_and_index(embedder):
    svc = _service(embedder)
    keep = svc.remember("I drive a blue Volvo.")
    gone = svc.remember("I am allergic to peanuts.")
    assert _memories(svc.recall_for("Is there any food I must avoid?", None))
    assert f"m{gone.id}" in svc.knowledge.index.ids("memories")
    svc.forget(gone.id)
    db = svc.store
    assert db.fetch("SELECT COUNT(*) FROM memories WHERE id = ?", (gone.id,))[0][0] == 0
    assert (
        db.fetch("SELECT COUNT(*) FROM memories_fts WHERE memories_fts MATCH 'peanuts'")[0][0] == 0
    )
    assert db.fetch("SELECT COUNT(*) FROM vectors WHERE key = ?", (f"m{gone.id}",))[0][0] == 0
    assert svc.knowledge.index.ids("memories") == {f"m{keep.id}"}
    assert _memories(svc.recall_for("Is there any food I must avoid?", None)) == []
    _close(svc)


def test_corrupt_index_is_rebuilt_from_sqlite_with_a_notice(embedder):
    svc = _service(embedder)
    for fact in FACTS:
        svc.remember(fact)
    svc.recall_for(QUESTIONS[0], None)  # opens and fills the index
    index_dir = get_paths().data_dir / "index"
    _close(svc)
    for f in index_dir.rglob("*"):
        if f.is_file() and f.name != "manifest.json":
            f.write_bytes(os.urandom(2048))
    svc = _service(embedder)
    told: list[str] = []
    svc.on_notice = told.append
    svc.ensure_open()
    assert len(told) == 1 and "rebuilt" in told[0]
    assert svc.knowledge.index.count("memories") == len(FACTS)
    for fact, question in zip(FACTS, QUESTIONS, strict=True):
        first = svc.recall_for(question, None).items[0]
        assert first.text == svc.remember(fact).text
    # Deleted outright: the same.
    _close(svc)
    shutil.rmtree(index_dir)
    svc = _service(embedder)
    assert svc.recall_for(QUESTIONS[2], None).items[0].text.startswith("The user works as a nurse")
    _close(svc)


def test_a_second_process_is_a_guest_and_the_owner_picks_up_its_changes(embedder):
    owner = _service(embedder)
    owner.remember("I drive a blue Volvo.")
    owner.ensure_open()
    guest = _service(embedder)  # same data folder, index lock held by the owner
    guest.ensure_open()
    assert guest.knowledge.guest and guest.knowledge.index is None
    added = guest.remember("I play the cello in an amateur orchestra.")
    hits = guest.search("Which instrument do I play?", ("memory",))
    assert hits and hits[0].id == added.id  # exact search over the cached vectors
    got = owner.recall_for("Which instrument do I play?", None)
    assert got.items[0].id == added.id
    assert f"m{added.id}" in owner.knowledge.index.ids("memories")
    guest.store.close()
    _close(owner)


def test_proposals_from_conversation_need_acceptance(embedder):
    svc = _service(embedder)
    conv = svc.store.create_conversation("Chat")
    msg = svc.store.add_message(conv.id, "user", "I work as a nurse. What should I cook tonight?")
    notice = svc.propose_from(msg.content, msg.id)
    assert notice is not None and notice.proposed and not notice.saved
    ((pid, text),) = notice.proposed
    assert text == "The user works as a nurse."
    assert _memories(svc.recall_for("What is my job?", conv.id)) == []
    svc.memories.accept(pid)
    assert _memories(svc.recall_for("What is my job?", conv.id)) == [text]
    assert svc.memories.get(pid).source_conversation_id == conv.id
    # Said again later, or the same message answered again: not proposed twice.
    assert svc.propose_from("I work as a nurse.", None) is None
    assert svc.propose_from(msg.content, msg.id) is None
    _close(svc)


@pytest.fixture
def chroma_server(tmp_path):
    exe = shutil.which("chroma") or str(
        __import__("pathlib").Path(os.sys.executable).with_name("chroma")
    )
    port = free_port()
    proc = subprocess.Popen(
        [
            exe,
            "run",
            "--path",
            str(tmp_path / "server"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 60
    while time.time() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.2)
    else:
        proc.kill()
        pytest.fail("chroma run did not start")
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(10)


def test_chroma_server_backend(embedder, chroma_server):
    svc = _service(embedder, chroma_url=chroma_server)
    for fact in FACTS:
        svc.remember(fact)
    got = svc.recall_for("Which movie do I like most?", None)
    assert got.items[0].text == "The user's favourite film is Spirited Away."
    assert svc.knowledge.index.url == chroma_server
    assert svc.knowledge.index.count("memories") == len(FACTS)
    gone = got.items[0].id
    svc.forget(gone)
    assert f"m{gone}" not in svc.knowledge.index.ids("memories")
    _close(svc)


def test_unreachable_chroma_server_is_one_clear_error(embedder):
    from assistant.core.base.errors import AssistantError

    svc = _service(embedder, chroma_url=f"http://127.0.0.1:{free_port()}")
    svc.remember("I drive a blue Volvo.")
    with pytest.raises(AssistantError, match="Cannot reach the Chroma server"):
        svc.ensure_open()
    svc.store.close()


def test_chat_goes_on_without_memory_when_the_index_is_unreachable(embedder, engine, greedy):
    from assistant.core.base.types import Done, MemoryNotice
    from assistant.core.chat.service import ChatService
    from assistant.core.config.settings import Settings

    svc = _service(embedder, chroma_url=f"http://127.0.0.1:{free_port()}")
    svc.remember("I drive a blue Volvo.")
    chat = ChatService(svc.store, engine, Settings(), svc)
    conv = chat.new_conversation()
    chunks = list(chat.send(conv.id, "What car do I have?", params=greedy))
    problems = [c.problem for c in chunks if isinstance(c, MemoryNotice) and c.problem]
    assert problems and "Cannot reach the Chroma server" in problems[0]
    assert isinstance(chunks[-1], Done) and chunks[-1].text  # answered all the same
    from assistant.core.base.errors import AssistantError

    with pytest.raises(AssistantError, match="Cannot reach"):  # documents only: say why
        list(chat.send(conv.id, "What does the manual say?", documents_only=True))
    svc.store.close()


def test_deleted_index_is_rebuilt_with_a_notice_and_reindex_leaves_no_debris(embedder):
    svc = _service(embedder)
    for fact in FACTS:
        svc.remember(fact)
    svc.ensure_open()
    assert svc.knowledge.notice is None  # first build: nothing to report
    index_dir = get_paths().data_dir / "index"
    _close(svc)
    shutil.rmtree(index_dir)
    svc = _service(embedder)
    told: list[str] = []
    svc.on_notice = told.append
    svc.ensure_open()
    assert told and "missing" in told[0]
    n_files = len(list(index_dir.rglob("*")))
    for _ in range(3):
        svc.knowledge.reindex()
    assert len(list(index_dir.rglob("*"))) == n_files  # no orphaned segment folders
    assert svc.knowledge.index.count("memories") == len(FACTS)
    _close(svc)


def test_cli_refuses_to_forget_everything_without_confirmation():
    from tests.conftest import run_cli

    assert run_cli("memory", "add", "I live in Lyon").returncode == 0
    r = run_cli("memory", "forget", "--all", input="")
    assert r.returncode == 1 and "--yes" in r.stderr
    assert "Lyon" in run_cli("memory", "list").stdout
    r = run_cli("memory", "forget", "--all", "--yes")
    assert r.returncode == 0 and "Forgot 1 memory." in r.stdout
    r = run_cli("settings", "set", "memory.chroma_url", "not a url")
    assert r.returncode == 1 and "http://host:port" in r.stderr


def test_recall_while_the_index_opens_elsewhere_does_not_wait_for_it(embedder, monkeypatch):
    """The window's first question: memory is opening on its own thread (chromadb takes
    a second or more); recall searches the cached vectors exactly instead of waiting."""
    import threading

    from assistant.core.memory import knowledge as knowledge_module

    svc = _service(embedder)
    svc.remember("My sister lives in Lyon.")
    svc.ensure_open()  # the vectors are cached, as after any earlier start
    _close(svc)

    svc = _service(embedder)
    opened_index = threading.Event()
    slow = knowledge_module.Knowledge._new_index

    def slow_index(self, url=None):
        time.sleep(6)  # a slow disk, or a big index: far past what an answer may wait
        index = slow(self, url)
        opened_index.set()
        return index

    monkeypatch.setattr(knowledge_module.Knowledge, "_new_index", slow_index)
    svc.open_soon()
    opener = threading.Thread(target=svc.ensure_open, daemon=True)
    opener.start()
    t0 = time.perf_counter()
    found = svc.recall_for("Where does my sister live?", None)
    took = time.perf_counter() - t0
    assert any("Lyon" in t for t in _memories(found)), found
    assert took < 4, f"recall waited {took:.1f} s for the index"
    assert not opened_index.is_set()
    opener.join(timeout=30)
    assert svc.knowledge.ready and svc.knowledge.index is not None
    _close(svc)


def test_a_one_shot_question_recalls_without_opening_chromadb(tmp_path):
    """`assistant ask`: the cached vectors are searched exactly; importing and opening
    chromadb (about a second) is left to the processes that keep the index."""
    env = {**os.environ, "ASSISTANT_HOME": str(tmp_path / "home")}
    cli = [sys.executable, "-m", "assistant"]
    subprocess.run([*cli, "memory", "add", "My sister lives in Lyon."], env=env, check=True)
    script = (
        "import sys\n"
        "from assistant.cli import common\n"
        "session = common.open_session(common.settings(), recall_only=True)\n"
        "found = session.memory.recall_for('Where does my sister live?', None)\n"
        "print([i.text for i in found.items], 'chromadb' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
    )
    assert "Lyon" in out.stdout and out.stdout.strip().endswith("False"), out.stdout + out.stderr
