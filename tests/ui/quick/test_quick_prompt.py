"""The quick prompt, offscreen, with the real starter model: it streams an answer,
saves it as a conversation, copies it, hides on Esc and hands over to the window."""

from __future__ import annotations

import time

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication

pytestmark = pytest.mark.timeout(300)


@pytest.fixture
def window(make_window):
    return make_window(show=False, generation={"max_tokens": 24, "temperature": 0, "seed": 1})


@pytest.fixture
def quick(qtbot, window):
    from assistant.ui.app import connect_quick
    from assistant.ui.quick.quick_prompt import QuickPrompt

    q = QuickPrompt(window.services)
    connect_quick(q, window)
    qtbot.addWidget(q)
    return q


def wait_answer(qtbot, q, timeout=120):
    deadline = time.time() + timeout
    while (q.job is not None or not q.answer) and time.time() < deadline:
        qtbot.wait(50)
    assert q.job is None and q.answer, q.status.text()


def test_quick_prompt_streams_saves_copies_hides_and_continues(qtbot, window, quick):
    w, q = window, quick
    assert not w.isVisible()
    q.open()
    assert q.isVisible()
    qtbot.waitUntil(q.input.hasFocus, timeout=3000)
    pieces = []
    w.engine.answer_started.connect(lambda a: a.chunk.connect(pieces.append))
    qtbot.keyClicks(q.input, "What is the capital of France?")
    qtbot.keyClick(q.input, Qt.Key.Key_Return)
    assert q.question.text() == "What is the capital of France?" and q.input.text() == ""
    wait_answer(qtbot, q)
    assert len(pieces) > 2, "the answer arrives as a stream"
    assert "Paris" in q.answer
    assert "Paris" in q.view.toPlainText()
    assert not w.isVisible(), "the main window stays closed"

    # Saved like any conversation.
    thread = w.store.thread(q.conversation_id)
    assert [m.role for m in thread] == ["user", "assistant"]
    assert thread[0].content == "What is the capital of France?"
    assert thread[1].content == q.answer

    # Ctrl+C in the (empty) input copies the answer.
    QGuiApplication.clipboard().setText("something else")
    qtbot.keyClick(q.input, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    assert QGuiApplication.clipboard().text() == q.answer

    # A follow-up continues the same conversation.
    cid = q.conversation_id
    q.ask("And of Italy?")
    wait_answer(qtbot, q)
    assert q.conversation_id == cid and len(w.store.thread(cid)) == 4

    q.continue_btn.click()  # "Continue in window" opens it there
    assert w.isVisible() and not q.isVisible()
    assert w.conversation_id == cid
    shown = [m.text for m in w.chat.messages()]
    assert shown[0] == "What is the capital of France?" and len(shown) == 4

    q.open()
    qtbot.keyClick(q.input, Qt.Key.Key_Escape)
    assert not q.isVisible()
    q.open()  # a new visit starts clean; its first question starts a new conversation
    assert q.answer == "" and not q.question.isVisible() and not q.continue_btn.isEnabled()
    q.ask("Name a fruit.")
    wait_answer(qtbot, q)
    assert q.conversation_id != cid


def test_quick_prompt_and_window_answers_do_not_mix(qtbot, window, quick):
    w, q = window, quick
    w.show()
    qtbot.waitUntil(lambda: bool(w.model_info), timeout=60_000)
    w.submit("Name a fruit.")
    q.open("Name a color.")  # queued behind the window's answer
    wait_answer(qtbot, q)
    qtbot.waitUntil(lambda: w.streaming is None, timeout=60_000)
    window_answer = w.store.thread(w.conversation_id)[-1].content
    quick_answer = w.store.thread(q.conversation_id)[-1].content
    assert w.conversation_id != q.conversation_id
    assert quick_answer == q.answer
    assert w.chat.messages()[-1].text == window_answer
    assert q.answer not in window_answer and window_answer not in q.answer


def test_selected_text_goes_along_only_when_ticked(qtbot, window, quick):
    from assistant.ui.quick.quick_prompt import with_context

    q = quick
    QGuiApplication.clipboard().setText("def add(a, b): return a + b")
    q.open()
    assert q.context_box.isVisible() and not q.context_box.isChecked()
    assert "def add(a, b)" in q.context_box.text()
    q.context_box.setChecked(True)
    q.ask("Explain this code.")
    wait_answer(qtbot, q)
    question = window.store.thread(q.conversation_id)[0].content
    assert question.startswith("Explain this code.") and "def add(a, b): return a + b" in question
    assert len(with_context("q", "x" * 20_000)) < 8_100  # a huge selection is cut


def test_without_a_tray_the_app_says_so_and_requests_still_work(qtbot, window, tmp_path):
    from PySide6.QtWidgets import QApplication

    from assistant.ui.app import create_desktop
    from assistant.ui.shell.single_instance import InstanceServer
    from assistant.ui.shell.tray import NO_TRAY

    app = QApplication.instance()
    server = InstanceServer(tmp_path / "instance.sock")
    assert server.claim() is None and server.listening
    desktop = create_desktop(app, window, server)
    try:
        assert desktop.tray is None and desktop.problems == [NO_TRAY]  # offscreen: no tray
        assert window.statusBar().currentMessage() == NO_TRAY
        window.statusBar().clearMessage()
        desktop.apply_settings(window.settings)  # e.g. after saving settings
        assert window.statusBar().currentMessage() == ""  # said once, not at every save
        assert app.quitOnLastWindowClosed() and not desktop.keep_running()
        desktop.handle({"cmd": "quick", "text": ""})
        assert desktop.quick.isVisible()
        assert "keeps running for your shortcut; Ctrl+Q quits it" in desktop.quick.status.text()
        desktop.handle({"cmd": "show"})
        assert window.isVisible()
        desktop.handle({"cmd": "no such command"})  # logged, ignored
    finally:
        desktop.close()
        desktop.quick.close()
    assert not server.listening
