"""Memory and documents in the chat window: real model, real embedder and index (offscreen)."""

from __future__ import annotations

import re

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QDesktopServices

from assistant.core.memory.service import NOT_IN_DOCUMENTS
from tests.helpers.documents import make_docs

pytestmark = pytest.mark.timeout(400)
WAIT_MS = 120_000  # the first answer also waits for the embedding model to load


@pytest.fixture
def window(make_window):
    return make_window(wait_loaded=True, generation={"max_tokens": 30, "seed": 3})


def send(qtbot, w, text: str) -> None:
    before = len(w.store.thread(w.conversation_id)) if w.conversation_id else 0
    qtbot.keyClicks(w.composer, text)
    qtbot.keyClick(w.composer, Qt.Key.Key_Return)
    qtbot.waitUntil(
        lambda: (
            w.streaming is None
            and w.conversation_id is not None
            and len(w.store.thread(w.conversation_id)) == before + 2
        ),
        timeout=WAIT_MS,
    )


def test_remember_recall_proposals_and_the_memory_window(qtbot, window):
    w = window
    send(qtbot, w, "Remember that my dog is called Biscuit.")
    answer = w.chat.messages()[-1]
    assert "The user's dog is called Biscuit." in answer.text
    saved = w.memory_actions.memories.list()
    assert [m.text for m in saved] == ["The user's dog is called Biscuit."]
    assert saved[0].source_conversation_id == w.conversation_id  # provenance

    # Stated in passing: proposed, and saved only when the user says so.
    send(qtbot, w, "I work as a nurse. Any tips for night shifts?")
    qtbot.waitUntil(lambda: w.memory_actions.proposals.isVisible())
    assert "The user works as a nurse." in w.memory_actions.proposals.label.text()
    qtbot.mouseClick(w.memory_actions.proposals.save_btn, Qt.MouseButton.LeftButton)
    assert not w.memory_actions.proposals.isVisible()
    texts = {m.text for m in w.memory_actions.memories.list()}
    assert texts == {"The user's dog is called Biscuit.", "The user works as a nurse."}

    # A new conversation recalls it, and the answer says what it used.
    first = w.conversation_id
    w.new_conversation()
    send(qtbot, w, "What is my dog's name?")
    answer = w.chat.messages()[-1]
    assert w.conversation_id != first
    assert answer.sources.isVisibleTo(w) and "1 memory" in answer.sources.text()
    recall = w.store.thread(w.conversation_id)[-1].stats["recall"]
    assert recall[0]["text"] == "The user's dog is called Biscuit."
    assert "Recalled for this answer:" in w.inspector.label.text()
    assert "• 1 memory" in w.inspector.label.text()

    # "What I know about you": the memories are listed; deleting one really deletes it.
    w.memory_actions.open_memory_window()
    mw = w.memory_actions._memory_window
    shown = [mw.list.item(i).text() for i in range(mw.list.count())]
    assert sorted(shown) == ["The user works as a nurse.", "The user's dog is called Biscuit."]
    # Search finds by meaning too (no word in common), once the search thread answers.
    mw.search.setText("pet")
    qtbot.waitUntil(
        lambda: (
            [mw.list.item(i).text() for i in range(mw.list.count())]
            == ["The user's dog is called Biscuit."]
        ),
        timeout=10_000,
    )
    mw.search.clear()
    nurse = next(m for m in w.memory_actions.memories.list() if "nurse" in m.text)
    w.memory_actions.memories.forget(nurse.id)
    mw.changed.emit()  # as the window does after a delete: the engine syncs the index
    index = w.services.memory.knowledge.index
    qtbot.waitUntil(lambda: f"m{nurse.id}" not in index.ids("memories"), timeout=10_000)
    assert all("nurse" not in m.text for m in w.memory_actions.memories.list(None))


def test_the_inspector_names_where_recalled_text_came_from():
    from assistant.ui.chat.inspector import recall_labels

    items = [
        {"kind": "memory", "label": "memory"},
        {"kind": "memory", "label": "memory"},
        {"kind": "document", "label": "guide.pdf, page 2"},
        {"kind": "conversation", "label": "from conversation “Eggs”"},
    ]
    assert recall_labels(items) == ["2 memories", "guide.pdf, page 2", "from conversation “Eggs”"]


def test_remember_button_on_a_message(qtbot, window):
    w = window
    send(qtbot, w, "I was born in Porto.")
    user_msg = w.chat.messages()[0]
    assert user_msg.remember_btn.isVisibleTo(w)
    qtbot.mouseClick(user_msg.remember_btn, Qt.MouseButton.LeftButton)
    texts = [m.text for m in w.memory_actions.memories.list()]
    assert "The user was born in Porto." in texts
    assert "Saved to memory" in w.statusBar().currentMessage()


def test_documents_only_answers_cite_or_decline(qtbot, window, tmp_path, monkeypatch):
    w = window
    w.services.memory.add_documents([make_docs(tmp_path / "docs")])
    qtbot.keyClick(w, Qt.Key.Key_D, Qt.KeyboardModifier.ControlModifier)
    assert w.memory_actions.documents_only
    send(qtbot, w, "How long is the kettle's warranty?")
    answer = w.chat.messages()[-1]
    assert "kettle-guide.pdf, page 3" in answer.sources.text()
    opened = []
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: opened.append(url) or True)
    link = re.search(r"href='(file://[^']+)'", answer.sources.text()).group(1)
    answer.sources.linkActivated.emit(link)  # as a click on the citation does
    assert opened and opened[0].toLocalFile() == str(tmp_path / "docs" / "kettle-guide.pdf")
    send(qtbot, w, "Who painted the Mona Lisa?")
    answer = w.chat.messages()[-1]
    assert answer.text == NOT_IN_DOCUMENTS and not answer.sources.isVisibleTo(w)


def test_unreachable_index_leaves_chat_working(qtbot, make_window):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    w = make_window(
        wait_loaded=True,
        generation={"max_tokens": 20},
        memory={"chroma_url": f"http://127.0.0.1:{port}"},
    )
    w.memory_actions.memories.remember("The user's dog is called Biscuit.")
    qtbot.waitUntil(lambda: "Chroma server" in w.banner.text(), timeout=WAIT_MS)
    send(qtbot, w, "What is my dog's name?")
    answer = w.store.thread(w.conversation_id)[-1]
    assert answer.role == "assistant" and answer.content and answer.status == "complete"
    assert "without memory" in w.statusBar().currentMessage()
    w.close()
