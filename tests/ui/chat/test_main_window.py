"""The desktop window with real widgets and the real starter model (pytest-qt, offscreen)."""

from __future__ import annotations

import json

import pytest
from PySide6.QtCore import Qt

from assistant.core.base.paths import get_paths

pytestmark = pytest.mark.timeout(300)
LOAD_MS = 60_000
ANSWER_MS = 60_000


GEN = {"max_tokens": 40, "seed": 11}  # short answers, the same each run


def send(qtbot, w, text: str):
    chunks: list[str] = []
    w.engine.answer_started.connect(lambda a: a.chunk.connect(chunks.append))
    qtbot.keyClicks(w.composer, text)
    qtbot.keyClick(w.composer, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: w.streaming is None and bool(chunks), timeout=ANSWER_MS)
    return chunks


def test_send_streams_answer_into_the_view(qtbot, make_window):
    w = make_window(wait_loaded=True, generation=GEN)
    chunks = send(qtbot, w, "What is the capital of France?")
    assert len(chunks) > 1, "the answer should stream in pieces"
    user, answer = w.chat.messages()
    assert user.text == "What is the capital of France?"
    assert answer.text == "".join(chunks) and "Paris" in answer.text
    assert "Paris" in answer.body.toPlainText()
    assert w.composer.toPlainText() == ""
    thread = w.store.thread(w.conversation_id)
    assert [m.role for m in thread] == ["user", "assistant"]
    assert thread[1].status == "complete"
    assert (
        "tok/s" in w.status_line.speed_label.text() and "context" in w.status_line.ctx_label.text()
    )
    assert w.sidebar.list.count() == 1


def test_shift_enter_makes_a_new_line(qtbot, make_window):
    w = make_window(wait_loaded=False)
    qtbot.keyClicks(w.composer, "line one")
    qtbot.keyClick(w.composer, Qt.Key.Key_Return, Qt.KeyboardModifier.ShiftModifier)
    qtbot.keyClicks(w.composer, "line two")
    assert w.composer.toPlainText() == "line one\nline two"
    assert w.streaming is None


def test_stop_mid_stream_keeps_partial_answer(qtbot, make_window):
    w = make_window(wait_loaded=True, generation={**GEN, "max_tokens": 400})
    chunks: list[str] = []
    w.engine.answer_started.connect(lambda a: a.chunk.connect(chunks.append))
    qtbot.keyClicks(w.composer, "Tell me a very long story about a dragon.")
    qtbot.keyClick(w.composer, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: len(chunks) >= 3, timeout=ANSWER_MS)
    qtbot.keyClick(w.composer, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: w.streaming is None, timeout=ANSWER_MS)
    answer = w.store.thread(w.conversation_id)[-1]
    assert answer.status == "stopped"
    assert answer.content == "".join(chunks) and len(chunks) < 50
    assert w.chat.messages()[-1].note.text() == "stopped"


def test_regenerate_and_branch_arrows(qtbot, make_window):
    w = make_window(wait_loaded=True, generation=GEN)
    send(qtbot, w, "Name a color.")
    first = w.chat.messages()[-1].text
    qtbot.mouseClick(w.regen_btn, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(
        lambda: (
            w.streaming is None
            and w.chat.messages()[-1].message is not None
            and w.chat.messages()[-1].branch_label.text() == "2/2"
        ),
        timeout=ANSWER_MS,
    )
    last = w.chat.messages()[-1]
    assert len(w.chat.messages()) == 2
    qtbot.mouseClick(last.prev_btn, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: w.chat.messages()[-1].branch_label.text() == "1/2")
    assert w.chat.messages()[-1].text == first


def test_edit_makes_a_branch_and_both_are_reachable(qtbot, make_window):
    w = make_window(wait_loaded=True, generation=GEN)
    send(qtbot, w, "Name a fruit.")
    user = w.chat.messages()[0]
    qtbot.mouseClick(user.edit_btn, Qt.MouseButton.LeftButton)
    assert w.composer.toPlainText() == "Name a fruit." and w.edit.note.isVisibleTo(w)
    w.composer.selectAll()
    send(qtbot, w, "Name a vegetable.")
    widgets = w.chat.messages()
    assert [x.text for x in widgets][:1] == ["Name a vegetable."] and len(widgets) == 2
    assert widgets[0].branch_label.text() == "2/2"
    qtbot.mouseClick(widgets[0].prev_btn, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: w.chat.messages()[0].text == "Name a fruit.")
    assert w.chat.messages()[0].branch_label.text() == "1/2"


def test_search_finds_an_old_conversation(qtbot, make_window):
    w = make_window(wait_loaded=False)
    old = w.store.create_conversation("Holiday plans")
    w.store.add_message(old.id, "user", "We should visit the zebra sanctuary.")
    w.store.add_message(old.id, "assistant", "Great idea.")
    other = w.store.create_conversation("Groceries")
    w.store.add_message(other.id, "user", "Milk and bread.")
    qtbot.keyClick(w, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClicks(w.sidebar.search, "zebra")
    qtbot.waitUntil(lambda: w.sidebar.list.count() == 1, timeout=5000)
    item = w.sidebar.list.item(0)
    assert "Holiday plans" in item.text()
    w.sidebar.list.itemClicked.emit(item)
    assert w.conversation_id == old.id
    assert w.chat.messages()[0].text.startswith("We should visit the zebra")


def test_close_and_reopen_loses_nothing(qtbot, make_window):
    w = make_window(wait_loaded=True, generation={**GEN, "max_tokens": 400})
    send(qtbot, w, "Hello!")
    cid = w.conversation_id
    chunks: list[str] = []
    w.engine.answer_started.connect(lambda a: a.chunk.connect(chunks.append))
    qtbot.keyClicks(w.composer, "Now tell me a long story.")
    qtbot.keyClick(w.composer, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: len(chunks) >= 2, timeout=ANSWER_MS)
    w.close()  # mid-answer: stopped cleanly, partial answer saved
    w2 = make_window(wait_loaded=False)
    assert w2.conversation_id == cid
    texts = [m.text for m in w2.chat.messages()]
    assert texts[0] == "Hello!" and texts[2] == "Now tell me a long story."
    assert texts[3].startswith("".join(chunks))
    assert w2.chat.messages()[3].note.text() == "stopped"


def test_bad_model_shows_a_message_and_the_app_stays_usable(qtbot, make_window, tmp_path):
    paths = get_paths().ensure()
    paths.settings_file.write_text(json.dumps({"model": {"path": str(tmp_path / "gone.gguf")}}))
    w = make_window(wait_loaded=False)
    qtbot.waitUntil(lambda: w.banner.isVisibleTo(w), timeout=LOAD_MS)
    assert "not found" in w.banner.text() and "Settings" in w.banner.text()
    conv = w.store.create_conversation("Still here")
    w.sidebar.refresh()
    w.open_conversation(conv.id)
    assert w.conversation_id == conv.id
    # Asking anyway says why there is no answer (not "not loaded yet": nothing is coming).
    failures: list[str] = []
    w.engine.answer_started.connect(lambda a: a.failed.connect(failures.append))
    w.submit("Hello?")
    qtbot.waitUntil(lambda: bool(failures), timeout=LOAD_MS)
    assert "not found" in failures[0] and "not loaded yet" not in failures[0]


def test_corrupt_settings_fall_back_to_defaults_with_a_notice(qtbot, make_window):
    paths = get_paths().ensure()
    paths.settings_file.write_text('{"generation": {"temperature": "hot"}}')
    w = make_window(wait_loaded=True)
    assert w.banner.isVisibleTo(w)
    assert "generation.temperature" in w.banner.text()


def test_an_error_in_a_slot_is_shown_not_fatal(qtbot, make_window):
    import sys

    from assistant.ui.app import install_error_hook

    w = make_window(wait_loaded=False)
    old = sys.excepthook
    try:
        install_error_hook(w)
        try:
            raise OSError(28, "No space left on device")
        except OSError:
            sys.excepthook(*sys.exc_info())
        assert "No space left on device" in w.statusBar().currentMessage()
    finally:
        sys.excepthook = old


def test_a_bad_model_choice_keeps_the_working_model(qtbot, make_window, tmp_path, starter_gguf):
    w = make_window(wait_loaded=True, generation=GEN)
    refused: list[str] = []
    w.engine.load_refused.connect(lambda text, _kept: refused.append(text))
    bad = tmp_path / "broken.gguf"
    bad.write_text("<html>oops</html>")
    w.settings_actions.choose_model(str(bad))  # Model → Choose a GGUF file…
    qtbot.waitUntil(lambda: bool(refused) and bool(w.model_info), timeout=LOAD_MS)
    assert "web page" in refused[0]
    assert w.model_info.path == str(starter_gguf), "the working model stays loaded"
    # A banner: the reason is longer than the status line is wide.
    qtbot.waitUntil(lambda: w.banner.isVisibleTo(w), timeout=5000)
    assert w.banner.text().startswith("Kept SmolLM2") and "web page" in w.banner.text()
    assert "No model" not in w.status_line.model_label.text()
    saved = json.loads(get_paths().settings_file.read_text()).get("model", {})
    assert not saved.get("path"), "the settings point at the model that answers"
    send(qtbot, w, "Hi")  # and it answers
    assert not w.banner.isVisibleTo(w), "the note goes once the user moves on"
    w.settings_actions.choose_model(str(tmp_path / "gone.gguf"))
    qtbot.waitUntil(lambda: len(refused) == 2 and bool(w.model_info), timeout=LOAD_MS)
    assert "not found" in refused[1] and w.model_info.path == str(starter_gguf)


def test_overflow_notice_and_length_cut_are_shown(qtbot, make_window):
    w = make_window(
        wait_loaded=True, model={"n_ctx": 512}, generation={"max_tokens": 16, "seed": 2}
    )
    notices: list[str] = []
    w.engine.answer_started.connect(lambda a: a.notice.connect(notices.append))
    for i in range(20):
        send(qtbot, w, f"Write a long essay, part {i}, about the history of the Roman empire.")
        if notices:
            break
    assert notices, "the conversation should have outgrown the 512-token window"
    qtbot.waitUntil(lambda: "left out" in w.statusBar().currentMessage(), timeout=5000)
    first = w.chat.messages()[0]
    assert "left out of the model's context" in first.note.text()
    assert "left out" in w.inspector.label.text()
    answers = [x for x in w.chat.messages() if x.role == "assistant"]
    notes = [a.note.text() for a in answers]
    stats = [a.message.stats.get("finish_reason") for a in answers]
    assert any("cut off at the length limit" in n for n in notes), (notes, stats)


def test_typing_pause_reads_ahead_so_sending_is_quick(qtbot, make_window):
    w = make_window(wait_loaded=True, generation=GEN)
    send(qtbot, w, "Hello!")
    draft = "Please explain, in detail, how rivers carve canyons over millions of years."
    # A pause in typing starts a read-ahead of the conversation plus the draft.
    # (A list, not qtbot.waitSignal: the signal comes from the engine thread.)
    prefilled: list[int] = []
    w.engine.prefilled.connect(prefilled.append)
    qtbot.keyClicks(w.composer, draft)
    qtbot.waitUntil(lambda: bool(prefilled), timeout=ANSWER_MS)
    assert prefilled[-1] > 20
    send(qtbot, w, "")  # Enter sends what was typed
    answer = w.store.thread(w.conversation_id)[-1]
    prompt, cached = answer.stats["prompt_tokens"], answer.stats["cached_tokens"]
    assert prompt - cached <= 14, (prompt, cached)
