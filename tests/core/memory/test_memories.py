"""Long-term memories in SQLite: provenance, supersession, search, real deletion."""

from __future__ import annotations

import pytest

from assistant.core.base.errors import AssistantError
from assistant.core.history.store import HistoryStore
from assistant.core.memory.store import MemoryStore


@pytest.fixture
def mem(tmp_path):
    store = HistoryStore(tmp_path / "h.sqlite3")
    yield MemoryStore(store)
    store.close()


def test_add_with_provenance_and_list(mem):
    conv = mem.store.create_conversation("Chat")
    msg = mem.store.add_message(conv.id, "user", "Remember that I live in Lyon.")
    m = mem.add("The user lives in   Lyon.", source_message_id=msg.id)
    assert m.text == "The user lives in Lyon." and m.status == "active" and m.origin == "user"
    assert (m.source_conversation_id, m.source_message_id) == (conv.id, msg.id)
    assert [x.id for x in mem.list()] == [m.id]
    with pytest.raises(AssistantError, match="needs some text"):
        mem.add("   ")


def test_supersession_keeps_history_and_forget_deletes_the_chain(mem):
    a = mem.add("The user lives in Lyon.")
    b = mem.add("The user lives in Paris.", supersedes=[a.id])
    c = mem.edit(b.id, "The user lives in Paris, in the 11th arrondissement.")
    assert [m.id for m in mem.list()] == [c.id]
    assert mem.get(a.id).status == "superseded" and mem.get(a.id).superseded_by == b.id
    assert [m.id for m in mem.history(c.id)] == [c.id, b.id, a.id]
    assert mem.search_text("Lyon") == []  # superseded facts are not recalled
    assert mem.forget(c.id) == [c.id, b.id, a.id]
    assert mem.list(status=None) == []
    rows = mem.store.fetch("SELECT COUNT(*) FROM memories_fts WHERE memories_fts MATCH 'Lyon'")
    assert rows[0][0] == 0, "deleted text must be gone from the search index too"


def test_keyword_search_proposals_and_forget_all(mem):
    mem.add("The user is allergic to peanuts.")
    p = mem.add("The user plays the cello.", origin="extracted", proposed=True)
    assert [m.text for m in mem.search_text("peanut")] == ["The user is allergic to peanuts."]
    assert mem.search_text("cello") == []  # not accepted yet
    mem.set_status(p.id, "active")
    assert mem.search_text("cello")[0].id == p.id
    assert mem.forget_all() == 2 and mem.list(status=None) == []


def test_source_conversation_deletion_keeps_the_memory(mem):
    conv = mem.store.create_conversation("Chat")
    msg = mem.store.add_message(conv.id, "user", "I have two cats.")
    m = mem.add("The user has two cats.", source_message_id=msg.id)
    mem.store.delete_conversation(conv.id)
    kept = mem.get(m.id)
    assert kept.text == "The user has two cats." and kept.source_message_id is None


def test_forget_reaches_every_older_version_and_edit_supersedes_the_same_thing(mem):
    lyon = mem.remember("The user lives in Lyon.")
    work = mem.remember("The user works in Lyon.")
    nice = mem.edit(work.id, "The user lives in Nice.")  # now about where they live
    assert mem.get(lyon.id).status == "superseded" and mem.get(work.id).status == "superseded"
    assert [m.text for m in mem.list()] == ["The user lives in Nice."]
    rome = mem.remember("The user lives in Rome.")
    assert {m.id for m in mem.history(rome.id)} == {rome.id, nice.id, work.id, lyon.id}
    assert mem.edit(rome.id, "The user  lives in Rome.").id == rome.id  # unchanged: no version
    mem.forget(rome.id)
    assert mem.list(status=None) == []


def test_a_turned_down_proposal_is_not_proposed_again(mem):
    p = mem.remember("The user plays the cello.", "extracted", proposed=True)
    mem.set_status(p.id, "rejected")
    again = mem.remember("The user plays the cello.", "extracted", proposed=True)
    assert again.id == p.id and again.status == "rejected"
    assert len(mem.list(status=None)) == 1


def test_accept_and_reject_only_apply_to_suggestions(mem):
    saved = mem.remember("The user lives in Paris.")
    assert mem.accept(saved.id).status == "active"  # accepted already: unchanged
    assert [m.id for m in mem.list()] == [saved.id]
    with pytest.raises(AssistantError, match="not a suggestion"):
        mem.reject(saved.id)
    p = mem.remember("The user lives in Nice.", "extracted", proposed=True)
    assert mem.get(saved.id).status == "active"  # a suggestion replaces nothing yet
    mem.accept(p.id)
    assert mem.get(saved.id).status == "superseded" and mem.get(saved.id).superseded_by == p.id


def test_saving_a_suggested_fact_accepts_the_suggestion(mem):
    p = mem.remember("The user works as a carpenter.", "extracted", proposed=True)
    saved = mem.remember("The user works as a carpenter.")  # the Remember button, say
    assert saved.id == p.id and saved.status == "active"
    assert len(mem.list(status=None)) == 1
    turned_down = mem.remember("The user plays golf.", "extracted", proposed=True)
    mem.reject(turned_down.id)
    assert mem.remember("The user plays golf.").status == "active"  # said on purpose now
