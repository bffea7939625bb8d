"""The Documents window: files and folders the assistant reads and looks things up in.

Adding, rescanning and removing run on a short-lived QThread (reading and
embedding take seconds; the first run also loads the embedding model). The
worker reports through signals only. A job outlives its window: closing the
window mid-scan leaves the thread to finish, held in ``_jobs``.
"""

from __future__ import annotations

import logging
import os
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QModelIndex, QObject, QRect, QSize, Qt, QThread, Signal, Slot
from PySide6.QtGui import QColor, QFontMetrics
from PySide6.QtWidgets import (
    QDialog,
    QFileDialog,
    QHeaderView,
    QProgressBar,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from assistant.core.base.errors import failure_text
from assistant.core.documents.readers import SUPPORTED_SUFFIXES
from assistant.core.documents.store import Document, plural
from assistant.core.memory.service import MemoryService
from assistant.ui.common.widgets import (
    EMPTY_STYLE,
    ERROR_STYLE,
    ask_yes_no,
    button_row,
    make_button,
    note,
)

log = logging.getLogger(__name__)

PATH_ROLE = Qt.ItemDataRole.UserRole  # what Remove forgets: a source or one document
EMPTY_TEXT = (
    "No documents yet. Add files or a folder: they are read on this computer, "
    "and I look things up in them when you ask."
)
SKIPPED_COLOR = QColor("#a04000")
WRAP_ANYWHERE = Qt.TextFlag.TextWordWrap | Qt.TextFlag.TextWrapAnywhere  # as the view draws it


class _WrapDelegate(QStyledItemDelegate):
    """Row heights from the real column width: QTreeView alone sizes rows as one line."""

    def __init__(self, tree: QTreeWidget) -> None:
        super().__init__(tree)
        self.tree = tree

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex) -> QSize:
        width = self.tree.header().sectionSize(index.column()) - 8
        if index.column() == 0:
            depth, parent = 1, index.parent()
            while parent.isValid():
                depth, parent = depth + 1, parent.parent()
            width -= depth * self.tree.indentation()
        box = QRect(0, 0, max(width, 40), 100_000)
        text = QFontMetrics(option.font).boundingRect(box, WRAP_ANYWHERE, index.data() or "")
        return QSize(width, max(text.height() + 4, super().sizeHint(option, index).height()))


class ScanWorker(QObject):
    """Runs one piece of document work off the GUI thread; talks only through signals."""

    reading = Signal(int, int, str)  # done, total, path
    indexing = Signal(int, int)  # passages embedded, total
    done = Signal(str)  # the line to show
    failed = Signal(str)

    def __init__(self, work: Callable[[ScanWorker], str], failure: str) -> None:
        super().__init__()
        self._work = work
        self._failure = failure  # "Could not add documents"

    @Slot()
    def run(self) -> None:
        try:
            self.done.emit(self._work(self))
        except Exception as e:  # never let a bad file or a bug take the app down
            self.failed.emit(failure_text(e, self._failure, log))
        finally:
            QThread.currentThread().quit()


class _Job(QObject):
    """A worker and its thread, held in ``_jobs`` so that neither dies with its window."""

    ended = Signal()

    def __init__(self, worker: ScanWorker) -> None:
        super().__init__()  # no parent: it must survive its window
        self.worker = worker
        self.done = False
        self.thread = QThread()
        self.thread.setObjectName("documents")
        worker.moveToThread(self.thread)
        self.thread.started.connect(worker.run)
        self.thread.finished.connect(self._finished)
        # Ended jobs are let go here, never inside their own slot (that would free
        # the object while Qt is still delivering to it).
        _jobs[:] = [j for j in _jobs if not j.done]
        _jobs.append(self)
        self.thread.start()

    @Slot()
    def _finished(self) -> None:
        self.thread.wait()  # finished() comes just before the thread really ends
        self.done = True
        self.ended.emit()


_jobs: list[_Job] = []


def scans_running() -> bool:
    return any(not j.done for j in _jobs)


def wait_for_scans(timeout_ms: int = 30_000) -> bool:
    """For app exit: a QThread destroyed while running aborts the process."""
    return all(j.thread.wait(timeout_ms) for j in list(_jobs))


class DocumentsWindow(QDialog):
    changed = Signal()  # sources or passages changed: the owner refreshes what it shows

    def __init__(self, service: MemoryService, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.service = service
        self.setWindowTitle("Documents")
        self.setObjectName("documents_window")
        self.resize(780, 520)
        self._job: _Job | None = None

        self.tree = QTreeWidget()
        self.tree.setObjectName("documents_tree")
        self.tree.setAccessibleName("Documents")
        self.tree.setColumnCount(2)
        self.tree.setHeaderLabels(["Document", "Status"])
        self.tree.setWordWrap(True)  # skip reasons must be readable, not cut off
        self.tree.setUniformRowHeights(False)
        self.tree.setItemDelegate(_WrapDelegate(self.tree))
        header = self.tree.header()
        header.setStretchLastSection(True)
        header.resizeSection(0, 330)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        header.sectionResized.connect(self._relayout)
        self.tree.currentItemChanged.connect(self._update_buttons)
        self.empty = note("documents_empty", EMPTY_STYLE, EMPTY_TEXT)
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)

        self.progress = QProgressBar()
        self.progress.setObjectName("documents_progress")
        self.progress.setAccessibleName("Progress")
        self.progress.hide()
        self.status = note("documents_status", "")
        self.error = note("documents_error", ERROR_STYLE)
        self.error.hide()

        b = make_button
        self.add_files_btn = b("Add files…", "Add documents", self._add_files)
        self.add_folder_btn = b("Add folder…", "Add a folder and what it holds", self._add_folder)
        self.remove_btn = b(
            "Remove…", "Forget it here; the files stay on disk", self.remove_selected
        )
        self.rescan_btn = b("Rescan", "Read new and changed files again", self.rescan)
        self.close_btn = b("Close", "Close", self.close)

        lay = QVBoxLayout(self)
        lay.addWidget(self.tree, 1)
        lay.addWidget(self.empty, 1)
        for w in (self.progress, self.status, self.error):
            lay.addWidget(w)
        lay.addLayout(
            button_row(
                self.add_files_btn,
                self.add_folder_btn,
                self.rescan_btn,
                None,
                self.remove_btn,
                self.close_btn,
            )
        )
        self.refresh()

    @property
    def busy(self) -> bool:
        return self._job is not None

    # -- showing ----------------------------------------------------------------

    def refresh(self) -> None:
        keep = self.selected_path()
        docs_by_source: dict[int, list[Document]] = defaultdict(list)
        for d in self.service.documents.documents():
            docs_by_source[d.source_id].append(d)
        self.tree.clear()
        sources = self.service.documents.sources()
        for source_id, root in sources:
            docs = docs_by_source[source_id]
            if len(docs) == 1 and docs[0].path == root:  # a file added on its own
                top = self._doc_item(docs[0], root)
            else:
                top = QTreeWidgetItem([root, _source_status(docs)])
                top.setData(0, PATH_ROLE, root)
                top.setToolTip(0, root)
                for d in docs:
                    top.addChild(self._doc_item(d, os.path.relpath(d.path, root)))
            self.tree.addTopLevelItem(top)
            top.setExpanded(True)
        self.select_path(keep)
        self.tree.setVisible(bool(sources))
        self.empty.setVisible(not sources)
        if not self.busy and not self.status.text():
            n = sum(d.status == "indexed" for d in self.service.documents.documents())
            self.status.setText(f"{n} documents ready to search." if sources else "")
        self._update_buttons()

    def _relayout(self, *_: object) -> None:
        self.tree.scheduleDelayedItemsLayout()  # new column width: new wrapped heights

    def _doc_item(self, d: Document, name: str) -> QTreeWidgetItem:
        item = QTreeWidgetItem([name, _doc_status(d)])
        item.setData(0, PATH_ROLE, d.path)
        item.setToolTip(0, d.path)
        item.setToolTip(1, _doc_status(d))
        if d.status != "indexed":
            item.setForeground(1, SKIPPED_COLOR)
        return item

    def select_path(self, path: str | None) -> None:
        items = [self.tree.topLevelItem(i) for i in range(self.tree.topLevelItemCount())]
        while items:
            item = items.pop(0)
            if item.data(0, PATH_ROLE) == path:
                self.tree.setCurrentItem(item)
                return
            items.extend(item.child(i) for i in range(item.childCount()))

    def selected_path(self) -> str | None:
        item = self.tree.currentItem()
        return None if item is None else item.data(0, PATH_ROLE)

    def _update_buttons(self, *_: object) -> None:
        idle = not self.busy
        self.add_files_btn.setEnabled(idle)
        self.add_folder_btn.setEnabled(idle)
        self.rescan_btn.setEnabled(idle and self.tree.topLevelItemCount() > 0)
        self.remove_btn.setEnabled(idle and self.selected_path() is not None)

    # -- actions ----------------------------------------------------------------

    def _add_files(self) -> None:
        self.add_paths(self._pick_files())

    def _add_folder(self) -> None:
        folder = self._pick_folder()
        if folder is not None:
            self.add_paths([folder])

    def add_paths(self, paths: list[Path]) -> None:
        """Add files or folders and read them, in the background."""
        paths = [Path(p) for p in paths]
        if not paths or self.busy:
            return
        service = self.service

        def work(w: ScanWorker) -> str:
            return (
                "Done: " + service.add_documents(paths, w.reading.emit, w.indexing.emit).summary()
            )

        self._start(work, "Could not add documents", f"Adding {_names(paths)}…")

    def rescan(self) -> None:
        """Read new and changed files again; drop the ones that are gone."""
        if self.busy:
            return
        service = self.service

        def work(w: ScanWorker) -> str:
            return "Rescanned: " + service.rescan(w.reading.emit).summary()

        self._start(work, "Could not rescan documents", "Looking for changes…")

    def remove_selected(self) -> None:
        path = self.selected_path()
        if path is None or self.busy:
            return
        name = Path(path).name or path
        if not self._confirm(
            f"Stop using “{name}”? I forget what I read in it; the files on disk stay as they are."
        ):
            return
        service = self.service

        def work(_w: ScanWorker) -> str:
            removed = service.remove_documents(path)
            return f"Removed {name} ({plural(len(removed), 'indexed document')})."

        self._start(work, "Could not remove it", f"Removing {name}…")

    def _start(self, work: Callable[[ScanWorker], str], failure: str, status: str) -> None:
        worker = ScanWorker(work, failure)
        worker.reading.connect(self._on_reading)
        worker.indexing.connect(self._on_indexing)
        worker.done.connect(self._on_done)
        worker.failed.connect(self._on_failed)
        self.error.hide()
        self.status.setText(status)
        self.progress.setRange(0, 0)  # busy until the first file is counted
        self.progress.show()
        self._job = _Job(worker)
        self._job.ended.connect(self._on_ended)
        self._update_buttons()

    # -- worker reports (queued to the GUI thread) ------------------------------

    def _on_reading(self, done: int, total: int, path: str) -> None:
        self.progress.setRange(0, total)
        self.progress.setValue(done)
        self.status.setText(f"Reading {done}/{total}: {Path(path).name}")

    def _on_indexing(self, done: int, total: int) -> None:
        self.progress.setRange(0, total)
        self.progress.setValue(done)
        self.status.setText(f"Preparing passages for search {done}/{total}…")

    def _on_done(self, message: str) -> None:
        self.status.setText(message)

    def _on_failed(self, message: str) -> None:
        self.status.setText("")
        self.error.setText(message)
        self.error.show()

    def _on_ended(self) -> None:
        self._job = None
        self.progress.hide()
        self.refresh()
        self.changed.emit()  # even a failed job may have added a source

    # -- asking the user (tests replace these) --------------------------------

    def _pick_files(self) -> list[Path]:
        # Any file that holds text is read (README, notes.log, LICENSE), so all files come first.
        pattern = " ".join(f"*{s}" for s in sorted(SUPPORTED_SUFFIXES))
        names, _ = QFileDialog.getOpenFileNames(
            self, "Add documents", str(Path.home()), f"All files (*);;Documents ({pattern})"
        )
        return [Path(n) for n in names]

    def _pick_folder(self) -> Path | None:
        folder = QFileDialog.getExistingDirectory(self, "Add a folder", str(Path.home()))
        return Path(folder) if folder else None

    def _confirm(self, text: str) -> bool:
        return ask_yes_no(self, "Remove", text)


def _doc_status(d: Document) -> str:
    if d.status == "indexed":
        return f"indexed ({d.chunks} passage{'' if d.chunks == 1 else 's'})"
    return f"skipped: {d.error or 'unknown reason'}"


def _source_status(docs: list[Document]) -> str:
    if not docs:
        return "nothing readable yet"
    indexed = [d for d in docs if d.status == "indexed"]
    parts = [f"{len(indexed)} indexed ({plural(sum(d.chunks for d in indexed), 'passage')})"]
    if len(docs) > len(indexed):
        parts.append(f"{len(docs) - len(indexed)} skipped")
    return f"{len(docs)} files: " + ", ".join(parts)


def _names(paths: list[Path]) -> str:
    return paths[0].name if len(paths) == 1 else f"{len(paths)} items"
