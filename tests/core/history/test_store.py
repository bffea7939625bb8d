from __future__ import annotations

import os
import sqlite3

import pytest

from assistant.core.base.errors import HistoryError
from assistant.core.history import migrations
from assistant.core.history.store import HistoryStore


@pytest.fixture
def store(tmp_path):
    s = HistoryStore(tmp_path / "h.sqlite3")
    yield s
    s.close()


def test_wal_mode_and_schema(store):
    assert store._query("PRAGMA journal_mode")[0][0] == "wal"
    assert store.user_version() == migrations.LATEST_VERSION
    assert store.integrity_check() == "ok"


def test_conversation_and_thread(store):
    c = store.create_conversation("Trip", system_prompt="Be brief.")
    u = store.add_message(c.id, "user", "Where is Lyon?")
    a = store.add_message(c.id, "assistant", "In France.")
    assert [m.id for m in store.thread(c.id)] == [u.id, a.id]
    assert store.get_conversation(c.id).current_leaf_id == a.id
    assert a.parent_id == u.id


def test_edit_and_regenerate_make_branches(store):
    c = store.create_conversation()
    u1 = store.add_message(c.id, "user", "first")
    a1 = store.add_message(c.id, "assistant", "answer one")
    a2 = store.add_message(c.id, "assistant", "answer two", parent_id=u1.id)
    assert [m.id for m in store.siblings(a1.id)] == [a1.id, a2.id]
    u2 = store.add_message(c.id, "user", "first, edited", parent_id=None)
    assert [m.id for m in store.siblings(u1.id)] == [u1.id, u2.id]
    assert [m.content for m in store.thread(c.id)] == ["first, edited"]
    assert [m.content for m in store.thread(c.id, a1.id)] == ["first", "answer one"]
    assert len(store.messages(c.id)) == 4
    store.switch_branch(u1.id)  # back to the first branch: its newest answer
    assert [m.content for m in store.thread(c.id)] == ["first", "answer two"]
    store.switch_branch(a1.id)
    assert [m.content for m in store.thread(c.id)] == ["first", "answer one"]


def test_full_text_search(store):
    c = store.create_conversation("Cooking")
    store.add_message(c.id, "user", "How long do I boil an egg?")
    store.add_message(c.id, "assistant", "About nine minutes for a hard-boiled égg.")
    d = store.create_conversation("Physics")
    store.add_message(d.id, "user", "What is entropy?")
    hits = store.search("boil")
    assert {h.conversation_id for h in hits} == {c.id}
    assert any("[" in h.snippet for h in hits)
    assert store.search("egg")[0].conversation_id == c.id  # diacritics folded
    assert store.search("entro")[0].conversation_id == d.id  # prefix match
    assert store.search("Physics")[0].role == "title"
    assert store.search('"; DROP TABLE messages; --') == []
    assert store.search("") == []


def test_deleting_conversation_removes_messages_and_search_rows(store):
    c = store.create_conversation()
    store.add_message(c.id, "user", "unique-marker-word")
    store.delete_conversation(c.id)
    assert store.search("unique-marker-word") == []
    assert store._query("SELECT COUNT(*) FROM messages")[0][0] == 0


def test_drafts_are_readable_while_streaming_and_finish(store):
    c = store.create_conversation()
    u = store.add_message(c.id, "user", "hi")
    d = store.start_draft(c.id, u.id, model="m")
    store.update_draft(d.id, "Hel")
    assert store.get_message(d.id).content == "Hel"
    assert store.get_message(d.id).status == "streaming"
    m = store.finish_draft(d.id, "Hello", "complete", {"generated_tokens": 2})
    assert (m.content, m.status, m.stats["generated_tokens"]) == ("Hello", "complete", 2)
    assert store._query("SELECT COUNT(*) FROM message_drafts")[0][0] == 0
    assert store.search("Hello")[0].message_id == d.id


def test_orphaned_draft_recovered_as_interrupted(tmp_path):
    path = tmp_path / "h.sqlite3"
    with HistoryStore(path) as s:
        c = s.create_conversation()
        u = s.add_message(c.id, "user", "hi")
        d = s.start_draft(c.id, u.id)
        s.update_draft(d.id, "partial answer")
    # Pretend the writer died: give the draft a pid that cannot exist.
    db = sqlite3.connect(path)
    db.execute("UPDATE message_drafts SET owner_pid = ?", (2**22 + 12345,))
    db.commit()
    db.close()
    with HistoryStore(path) as s:
        m = s.get_message(d.id)
        assert (m.content, m.status) == ("partial answer", "interrupted")
        assert s.search("partial")[0].message_id == d.id


def test_live_writer_draft_is_not_recovered(tmp_path):
    path = tmp_path / "h.sqlite3"
    writer = HistoryStore(path)
    c = writer.create_conversation()
    d = writer.start_draft(c.id, None)
    writer.update_draft(d.id, "still going")
    with HistoryStore(path) as reader:  # same pid: alive
        assert reader.get_message(d.id).status == "streaming"
    writer.close()


def test_migration_backs_up_first(tmp_path, monkeypatch):
    path = tmp_path / "h.sqlite3"
    with HistoryStore(path) as s:
        c = s.create_conversation("keep me")
        s.add_message(c.id, "user", "precious")
    latest = migrations.LATEST_VERSION
    v2 = "ALTER TABLE conversations ADD COLUMN color TEXT;"
    monkeypatch.setattr(migrations, "MIGRATIONS", [*migrations.MIGRATIONS, v2])
    monkeypatch.setattr(migrations, "LATEST_VERSION", len(migrations.MIGRATIONS))
    with HistoryStore(path) as s:
        assert s.user_version() == latest + 1
        assert s.thread(c.id)[0].content == "precious"
    backups = list((tmp_path / "backups").glob("*.sqlite3"))
    assert len(backups) == 1
    old = sqlite3.connect(backups[0])
    assert old.execute("PRAGMA user_version").fetchone()[0] == latest
    assert old.execute("SELECT content FROM messages").fetchone()[0] == "precious"
    old.close()


def test_newer_database_is_refused_and_untouched(tmp_path):
    path = tmp_path / "h.sqlite3"
    with HistoryStore(path) as s:
        s.create_conversation("future")
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {migrations.LATEST_VERSION + 5}")
    db.commit()
    db.close()
    before = path.read_bytes()
    with pytest.raises(HistoryError, match="newer version"):
        HistoryStore(path)
    assert path.read_bytes() == before


def test_corrupt_database_gives_one_line_error(tmp_path):
    path = tmp_path / "h.sqlite3"
    path.write_bytes(os.urandom(8192))
    with pytest.raises(HistoryError) as e:
        HistoryStore(path)
    assert "\n" not in str(e.value) and "move it aside" in str(e.value)


def test_a_version_1_database_upgrades_with_its_data(tmp_path, monkeypatch):
    """A history written by the first release opens in this one, backed up first."""
    path = tmp_path / "h.sqlite3"
    monkeypatch.setattr(migrations, "MIGRATIONS", migrations.MIGRATIONS[:1])
    monkeypatch.setattr(migrations, "LATEST_VERSION", 1)
    with HistoryStore(path) as s:
        c = s.create_conversation("old")
        s.add_message(c.id, "user", "from version one")
    monkeypatch.undo()
    with HistoryStore(path) as s:
        assert s.user_version() == migrations.LATEST_VERSION
        assert s.thread(c.id)[0].content == "from version one"
        assert s.search("version")[0].conversation_id == c.id
        tables = {r[0] for r in s._query("SELECT name FROM sqlite_master WHERE type='table'")}
        assert "memories" in tables
        assert s.integrity_check() == "ok"
    assert len(list((tmp_path / "backups").glob("*before-migration-v1*"))) == 1
