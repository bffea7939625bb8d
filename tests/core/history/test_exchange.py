from __future__ import annotations

import json

import pytest

from assistant.core.base.errors import HistoryError
from assistant.core.history import exchange
from assistant.core.history.store import HistoryStore


@pytest.fixture
def store(tmp_path):
    s = HistoryStore(tmp_path / "a.sqlite3")
    yield s
    s.close()


def _sample(store: HistoryStore) -> int:
    c = store.create_conversation("Branches", system_prompt="Be kind.")
    u = store.add_message(c.id, "user", "Hello **there**")
    store.add_message(c.id, "assistant", "Hi! ```py\nprint(1)\n```", stats={"generated_tokens": 9})
    store.add_message(c.id, "assistant", "Another take", parent_id=u.id, status="stopped")
    return c.id


def test_json_round_trip_keeps_every_branch(store, tmp_path):
    cid = _sample(store)
    data = exchange.export_json(store)
    f = tmp_path / "export.json"
    f.write_text(json.dumps(data))
    with HistoryStore(tmp_path / "b.sqlite3") as other:
        report = exchange.import_json(other, f)
        assert (report.imported, report.skipped, report.messages) == (1, 0, 3)
        again = exchange.import_json(other, f)
        assert (again.imported, again.skipped) == (0, 1)
        (conv,) = other.list_conversations()
        orig = store.get_conversation(cid)
        assert int(conv.updated_at) == int(orig.updated_at)
        assert int(conv.created_at) == int(orig.created_at)
        assert (conv.uid, conv.title, conv.system_prompt) == (
            orig.uid,
            orig.title,
            orig.system_prompt,
        )
        got = [(m.role, m.content, m.status, m.stats) for m in other.messages(conv.id)]
        want = [(m.role, m.content, m.status, m.stats) for m in store.messages(cid)]
        assert got == want
        assert [m.content for m in other.thread(conv.id)] == ["Hello **there**", "Another take"]


def test_export_import_export_is_stable(store, tmp_path):
    import time

    for title in ("first", "second", "third"):
        c = store.create_conversation(title)
        store.add_message(c.id, "user", f"hello {title}")
        time.sleep(1.05)  # exports keep whole seconds
    first = exchange.export_json(store)
    f = tmp_path / "e.json"
    f.write_text(json.dumps(first))
    with HistoryStore(tmp_path / "c.sqlite3") as other:
        exchange.import_json(other, f)
        assert [c.title for c in other.list_conversations()] == ["third", "second", "first"]
        assert exchange.export_json(other) == first


def test_markdown_export_shows_current_branch(store):
    cid = _sample(store)
    md = exchange.export_markdown(store, cid)
    assert md.startswith("# Branches")
    assert "## You" in md and "Hello **there**" in md
    assert "Another take" in md and "(stopped)" in md and "(version 2 of 2)" in md
    assert "print(1)" not in md  # the other branch is not the current one


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ("not json", "not a readable JSON"),
        ('{"format": "other"}', "not an assistant history export"),
        ('{"format": "assistant-history", "version": 99, "conversations": []}', "not supported"),
        (
            '{"format": "assistant-history", "version": 1, "conversations": [{"uid": "x", '
            '"messages": [{"uid": "m", "role": "hacker", "content": "x"}]}]}',
            "unknown role",
        ),
        (
            '{"format": "assistant-history", "version": 1, "conversations": [{"uid": "x", '
            '"messages": [{"uid": "m", "role": "user", "content": "x", "parent": "zz"}]}]}',
            "parent",
        ),
    ],
)
def test_bad_import_files_are_rejected_whole(store, tmp_path, content, match):
    f = tmp_path / "bad.json"
    f.write_text(content)
    with pytest.raises(HistoryError, match=match):
        exchange.import_json(store, f)
    assert store.list_conversations() == []
