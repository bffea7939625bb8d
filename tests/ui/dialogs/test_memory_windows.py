"""The memory and documents windows with real widgets, real SQLite and the real embedder."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import shiboken6
from PySide6.QtCore import QObject, Qt, Slot
from PySide6.QtWidgets import QTreeWidgetItem

from assistant.core.base.errors import AssistantError
from assistant.core.base.paths import get_paths
from assistant.core.config.settings import MemorySettings
from assistant.core.documents.store import ScanReport
from assistant.core.history.store import HistoryStore
from assistant.core.memory.embedder import Embedder
from assistant.core.memory.knowledge import Knowledge
from assistant.core.memory.service import MemoryService
from assistant.core.memory.store import MemoryStore
from assistant.ui.dialogs import documents_window
from assistant.ui.dialogs.documents_window import DocumentsWindow
from assistant.ui.dialogs.memory_list import META_ROLE
from assistant.ui.dialogs.memory_window import EMPTY_TEXT, MemoryWindow

pytestmark = pytest.mark.timeout(180)
SCAN_MS = 60_000


class Recorder(QObject):
    """Collects signal arguments through a bound slot in the GUI thread."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple] = []

    @Slot()
    @Slot(int)
    def record(self, *args: object) -> None:
        self.calls.append(args)


@pytest.fixture
def store(assistant_home):
    s = HistoryStore(get_paths().ensure().history_db)
    yield s
    s.close()


@pytest.fixture
def mem(store):
    return MemoryStore(store)


@pytest.fixture
def window(qtbot, mem):
    w = MemoryWindow(mem)
    qtbot.addWidget(w)
    w.show()
    w.changes = Recorder()
    w.changed.connect(w.changes.record)
    return w


def texts(lst) -> list[str]:
    return [lst.item(i).text() for i in range(lst.count())]


def metas(lst) -> list[str]:
    return [lst.item(i).data(META_ROLE) for i in range(lst.count())]


def select(w: MemoryWindow, text: str) -> None:
    w.list.setCurrentRow(texts(w.list).index(text))


# -- memories -------------------------------------------------------------------


def test_list_shows_memories_provenance_and_opens_the_conversation(qtbot, window, mem, store):
    assert window.empty.isVisibleTo(window) and window.empty.text() == EMPTY_TEXT
    assert not window.list.isVisibleTo(window)
    conv = store.create_conversation("Chat")
    msg = store.add_message(conv.id, "user", "Remember that I live in Lyon.")
    mem.remember("The user lives in Lyon.", source_message_id=msg.id)
    mem.remember("The user is allergic to peanuts.")
    window.refresh()
    assert texts(window.list) == ["The user is allergic to peanuts.", "The user lives in Lyon."]
    assert "from a conversation" not in metas(window.list)[0]
    assert (
        metas(window.list)[1].startswith("saved ")
        and "from a conversation" in metas(window.list)[1]
    )
    assert not window.empty.isVisibleTo(window)

    opened = Recorder()
    window.open_conversation.connect(opened.record)
    select(window, "The user is allergic to peanuts.")
    assert not window.open_btn.isEnabled()  # no source to open
    select(window, "The user lives in Lyon.")
    assert window.open_btn.isEnabled()
    qtbot.mouseClick(window.open_btn, Qt.MouseButton.LeftButton)
    window.list.itemDoubleClicked.emit(window.list.currentItem())
    assert opened.calls == [(conv.id,), (conv.id,)]


def test_search_filters_as_you_type_also_by_partial_words(qtbot, window, mem):
    for fact in (
        "The user is allergic to peanuts.",
        "The user plays the cello.",
        "The user owns a cat.",
    ):
        mem.remember(fact)
    window.refresh()
    qtbot.keyClicks(window.search, "cello")
    assert texts(window.list) == ["The user plays the cello."]
    window.search.clear()
    qtbot.keyClicks(window.search, "anut")  # inside a word: only the substring match finds it
    assert texts(window.list) == ["The user is allergic to peanuts."]
    window.search.setText("giraffe")
    assert not window.list.isVisibleTo(window)
    assert window.empty.text() == "Nothing I know matches “giraffe”."
    window.search.clear()
    assert len(texts(window.list)) == 3


def test_add_saves_third_person_and_supersedes(qtbot, window, mem):
    qtbot.mouseClick(window.add_btn, Qt.MouseButton.LeftButton)
    assert window.editor_box.isVisibleTo(window)
    qtbot.keyClicks(window.editor, "I live in Lyon")
    qtbot.keyClick(window.editor, Qt.Key.Key_Return)
    assert [m.text for m in mem.list()] == ["The user lives in Lyon."]
    assert texts(window.list) == ["The user lives in Lyon."]
    assert not window.editor_box.isVisibleTo(window) and len(window.changes.calls) == 1

    qtbot.mouseClick(window.add_btn, Qt.MouseButton.LeftButton)
    qtbot.keyClicks(window.editor, "I live in Paris")
    qtbot.mouseClick(window.save_btn, Qt.MouseButton.LeftButton)
    assert texts(window.list) == ["The user lives in Paris."]  # a newer fact replaces the old

    qtbot.mouseClick(window.add_btn, Qt.MouseButton.LeftButton)
    qtbot.keyClicks(window.editor, "never mind")
    qtbot.keyClick(window.editor, Qt.Key.Key_Escape)  # cancels the editor, not the window
    assert window.isVisible() and not window.editor_box.isVisibleTo(window)
    assert len(mem.list()) == 1 and len(window.changes.calls) == 2


def test_edit_makes_a_new_version_and_history_shows_the_old(qtbot, window, mem):
    old = mem.remember("The user works as a nurse.")
    window.refresh()
    window.list.setFocus()
    qtbot.keyClick(window.list, Qt.Key.Key_Return)  # Enter edits the selected memory
    assert window.editor.text() == "The user works as a nurse."
    window.editor.setText("The user works as a midwife.")
    qtbot.keyClick(window.editor, Qt.Key.Key_Return)
    assert texts(window.list) == ["The user works as a midwife."]
    assert "updated" in metas(window.list)[0]
    new = mem.list()[0]
    assert [m.id for m in mem.history(new.id)] == [new.id, old.id]
    assert window.history.isHidden()
    qtbot.mouseClick(window.history_btn, Qt.MouseButton.LeftButton)
    assert window.history.isVisibleTo(window)
    assert "The user works as a nurse." in window.history.text()
    assert "The user works as a midwife." in window.history.text()
    assert window.changes.calls == [()]


def test_accept_and_reject_suggestions(qtbot, window, mem):
    assert not window.suggested_box.isVisibleTo(window)
    mem.remember("The user plays the cello.", origin="extracted", proposed=True)
    mem.remember("The user drives a blue Volvo.", origin="extracted", proposed=True)
    window.refresh()
    assert window.suggested_box.isVisibleTo(window)
    assert texts(window.suggested) == ["The user drives a blue Volvo.", "The user plays the cello."]
    assert window.empty.isVisibleTo(window)  # nothing accepted yet
    window.suggested.setCurrentRow(1)
    qtbot.mouseClick(window.accept_btn, Qt.MouseButton.LeftButton)
    assert texts(window.list) == ["The user plays the cello."]
    assert texts(window.suggested) == ["The user drives a blue Volvo."]
    qtbot.mouseClick(window.reject_btn, Qt.MouseButton.LeftButton)
    assert not window.suggested_box.isVisibleTo(window)
    assert [m.text for m in mem.list("rejected")] == ["The user drives a blue Volvo."]
    assert len(window.changes.calls) == 2


def test_delete_asks_then_removes_every_version(qtbot, window, mem, monkeypatch):
    first = mem.remember("The user has a dog.")
    mem.edit(first.id, "The user has two dogs.")
    mem.remember("The user speaks Italian.")
    window.refresh()
    asked: list[str] = []
    answer = [False]
    monkeypatch.setattr(window, "_confirm", lambda text: asked.append(text) or answer[0])
    select(window, "The user has two dogs.")
    window.list.setFocus()
    qtbot.keyClick(window.list, Qt.Key.Key_Delete)
    assert asked and "two dogs" in asked[0]
    assert len(mem.list(None)) == 3 and window.changes.calls == []  # said no
    answer[0] = True
    qtbot.mouseClick(window.delete_btn, Qt.MouseButton.LeftButton)
    assert [m.text for m in mem.list(None)] == ["The user speaks Italian."]
    assert texts(window.list) == ["The user speaks Italian."]
    assert len(window.changes.calls) == 1


def test_forget_everything(qtbot, window, mem, monkeypatch):
    mem.remember("The user speaks Italian.")
    mem.remember("The user plays chess.", proposed=True)
    window.refresh()
    monkeypatch.setattr(window, "_confirm", lambda text: "2 memories" in text)
    qtbot.mouseClick(window.forget_all_btn, Qt.MouseButton.LeftButton)
    assert mem.list(None) == []
    assert window.empty.isVisibleTo(window) and not window.suggested_box.isVisibleTo(window)
    assert not window.forget_all_btn.isEnabled() and len(window.changes.calls) == 1


# -- documents ------------------------------------------------------------------


@pytest.fixture(scope="module")
def embedder(tmp_path_factory):
    e = Embedder(None, tmp_path_factory.mktemp("cache"))
    e.load()  # once for the module: every test gets a fresh index, not a fresh model
    return e


@pytest.fixture
def service(store, embedder):
    paths, settings = get_paths(), MemorySettings()
    knowledge = Knowledge(store, paths, settings, embedder=embedder)
    yield MemoryService(store, paths, settings, knowledge=knowledge)
    assert documents_window.wait_for_scans(SCAN_MS)
    knowledge.close()


@pytest.fixture
def docs(qtbot, service):
    w = DocumentsWindow(service)
    qtbot.addWidget(w)
    w.show()
    w.changes = Recorder()
    w.changed.connect(w.changes.record)
    return w


@pytest.fixture
def folder(tmp_path) -> Path:
    d = tmp_path / "notes"
    d.mkdir()
    (d / "boiler.md").write_text("# Boiler\n\nThe boiler is serviced every March by Jean.\n")
    (d / "keys.txt").write_text("The spare keys are with the neighbour at number 12.\n")
    (d / "bad.pdf").write_bytes(b"%PDF-1.4\nnot really a pdf")
    return d


def rows(w: DocumentsWindow) -> dict[str, str]:
    """Every row's name → status, as the user reads them."""
    out: dict[str, str] = {}
    todo: list[QTreeWidgetItem] = [
        w.tree.topLevelItem(i) for i in range(w.tree.topLevelItemCount())
    ]
    while todo:
        item = todo.pop(0)
        out[item.text(0)] = item.text(1)
        todo.extend(item.child(i) for i in range(item.childCount()))
    return out


def wait_idle(qtbot, w: DocumentsWindow) -> None:
    qtbot.waitUntil(lambda: not w.busy, timeout=SCAN_MS)


def test_add_folder_scans_in_background_and_shows_skips(qtbot, docs, folder, service, monkeypatch):
    assert docs.empty.isVisibleTo(docs) and not docs.rescan_btn.isEnabled()
    monkeypatch.setattr(docs, "_pick_folder", lambda: folder)
    qtbot.mouseClick(docs.add_folder_btn, Qt.MouseButton.LeftButton)
    assert docs.busy and not docs.add_files_btn.isEnabled() and docs.progress.isVisibleTo(docs)
    wait_idle(qtbot, docs)
    shown = rows(docs)
    assert shown[str(folder)] == "3 files: 2 indexed (2 passages), 1 skipped"
    assert shown["boiler.md"] == "indexed (1 passage)"
    assert shown["keys.txt"] == "indexed (1 passage)"
    assert shown["bad.pdf"].startswith("skipped: bad.pdf is damaged or not a real PDF file")
    assert docs.status.text().startswith("Done: 2 added") and "1 skipped" in docs.status.text()
    assert docs.error.isHidden() and not docs.progress.isVisibleTo(docs)
    assert docs.add_files_btn.isEnabled() and docs.rescan_btn.isEnabled()
    assert len(docs.changes.calls) == 1
    hits = service.search("When is the boiler serviced?", ("document",), k=1)
    assert hits and "March" in hits[0].text

    qtbot.mouseClick(docs.rescan_btn, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, docs)
    assert (
        docs.status.text().startswith("Rescanned: 0 added") and "2 unchanged" in docs.status.text()
    )

    # Remove one document, then the folder; the files stay on disk.
    monkeypatch.setattr(docs, "_confirm", lambda text: True)
    docs.select_path(str(folder / "keys.txt"))
    qtbot.mouseClick(docs.remove_btn, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, docs)
    assert "keys.txt" not in rows(docs) and "boiler.md" in rows(docs)
    docs.select_path(str(folder))
    qtbot.mouseClick(docs.remove_btn, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, docs)
    assert rows(docs) == {} and docs.empty.isVisibleTo(docs)
    assert service.documents.sources() == [] and (folder / "keys.txt").exists()


def test_a_failed_scan_shows_a_message_and_the_window_stays_usable(
    qtbot, docs, folder, service, monkeypatch
):
    def broken(paths, progress=None, embed_progress=None):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(service, "add_documents", broken)
    docs.add_paths([folder])
    wait_idle(qtbot, docs)
    assert docs.error.isVisibleTo(docs)
    assert docs.error.text() == "Could not add documents: RuntimeError: disk on fire."
    assert docs.add_files_btn.isEnabled() and docs.add_folder_btn.isEnabled()

    def refused(paths, progress=None, embed_progress=None):
        raise AssistantError("That drive is gone.", "Plug it in again.")

    monkeypatch.setattr(service, "add_documents", refused)
    docs.add_paths([folder])
    wait_idle(qtbot, docs)
    assert docs.error.text() == "That drive is gone. Plug it in again."

    monkeypatch.undo()
    monkeypatch.setattr(docs, "_pick_files", lambda: [folder / "keys.txt"])
    qtbot.mouseClick(docs.add_files_btn, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, docs)
    assert docs.error.isHidden()
    assert rows(docs) == {str(folder / "keys.txt"): "indexed (1 passage)"}


def test_closing_while_a_scan_runs_is_safe(qtbot, service, monkeypatch):
    seen: list[int] = []

    def slow(paths, progress=None, embed_progress=None):
        for i in range(1, 6):
            progress(i, 5, f"/x/file{i}.md")
            seen.append(i)
            time.sleep(0.1)
        return ScanReport()

    monkeypatch.setattr(service, "add_documents", slow)
    w = DocumentsWindow(service)
    w.show()
    w.add_paths([Path("/x")])
    qtbot.waitUntil(lambda: w.status.text().startswith("Reading"), timeout=5_000)
    w.close()
    w.deleteLater()
    qtbot.waitUntil(lambda: not shiboken6.isValid(w), timeout=5_000)
    assert documents_window.scans_running(), "the window should be gone mid-scan"
    qtbot.waitUntil(lambda: not documents_window.scans_running(), timeout=10_000)
    assert seen == [1, 2, 3, 4, 5]
