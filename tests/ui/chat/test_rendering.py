"""Markdown rendering and message widgets (offscreen Qt, no model needed)."""

from __future__ import annotations

from PySide6.QtCore import QUrl
from PySide6.QtGui import QGuiApplication

from assistant.core.history.store import Message
from assistant.ui.chat.message_view import ChatView, MessageWidget
from assistant.ui.common import markdown_render

ANSWER = "Use this:\n\n```python\nprint('hi')\n```\n\nand `x`."


def test_markdown_is_rendered_and_html_is_escaped():
    r = markdown_render.render("**bold** <script>alert(1)</script> <img src=x onerror=y>")
    assert "<strong>bold</strong>" in r.html
    assert "<script>" not in r.html and "&lt;script&gt;" in r.html
    assert "<img" not in r.html


def test_code_blocks_are_highlighted_and_indexed():
    r = markdown_render.render(ANSWER + "\n\n```\nplain\n```")
    assert r.code_blocks == ("print('hi')\n", "plain\n")
    assert 'href="copy:0"' in r.html and 'href="copy:1"' in r.html
    assert "style=" in r.html  # Pygments inline colours
    assert markdown_render.plain("<b>x</b>\ny") == "<p>&lt;b&gt;x&lt;/b&gt;<br>y</p>"


def test_copy_message_and_copy_code(qtbot):
    view = ChatView()
    qtbot.addWidget(view)
    w = view.add(MessageWidget("assistant"))
    w.bind(Message(1, "u", 1, None, "assistant", ANSWER, "complete", None, 0.0), [1])
    with qtbot.waitSignal(w.copy_code):
        w.body.anchorClicked.emit(QUrl("copy:0"))
    assert QGuiApplication.clipboard().text() == "print('hi')\n"
    w.copy_btn.click()
    assert QGuiApplication.clipboard().text() == ANSWER
    assert "print('hi')" in w.body.toPlainText()


def test_streaming_text_renders_throttled_and_final(qtbot):
    view = ChatView()
    qtbot.addWidget(view)
    w = view.add(MessageWidget("assistant"))
    for piece in ["Hel", "lo ", "**wor", "ld**"]:
        w.append(piece)
    assert w.text == "Hello **world**"
    qtbot.waitUntil(lambda: "Hello world" in w.body.toPlainText(), timeout=2000)
    w.bind(Message(2, "u2", 1, None, "assistant", "Final.", "stopped", None, 0.0), [2, 3])
    assert w.body.toPlainText().strip() == "Final."
    assert w.note.text() == "stopped" and w.branch_label.text() == "1/2"
    assert w.prev_btn.isEnabled() is False and w.next_btn.isEnabled()
    with qtbot.waitSignal(w.branch_requested) as sig:
        w.next_btn.click()
    assert sig.args == [3]
