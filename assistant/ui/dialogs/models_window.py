"""Get models: the catalog with a fit badge for this machine, downloads with
progress and cancel (resumable), and "Use" to switch the chat model."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from assistant.core.base.errors import AssistantError, failure_text
from assistant.core.base.paths import Paths
from assistant.core.base.types import CancelToken, ModelInfo
from assistant.core.models.catalog import BADGE_TEXT, CatalogRow
from assistant.ui.services.engine_client import EngineClient

log = logging.getLogger(__name__)


class _Download(QObject):
    """Signals from the download thread (queued onto the GUI thread)."""

    progress = Signal(int, int)
    done = Signal(str)  # the file's path
    failed = Signal(str)


class _Detect(QObject):
    """The hardware, found on a thread: `nvidia-smi` can take seconds."""

    found = Signal(object, object)  # Hardware | None, error text | None


class ModelsWindow(QDialog):
    def __init__(
        self,
        paths: Paths,
        engine: EngineClient,
        use_model: Callable[[str], None],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._paths, self._engine, self._use_model = paths, engine, use_model
        self.setWindowTitle("Get models")
        self.resize(860, 460)
        self.hardware = QLabel("")
        self.hardware.setWordWrap(True)
        self.table = QTreeWidget()
        self.table.setHeaderLabels(["Model", "Fits here?", "Size", "License", "Why"])
        self.table.setRootIsDecorated(False)
        self.table.setAccessibleName("Model catalog")
        self.table.currentItemChanged.connect(lambda *_: self._update())
        self.summary = QLabel("")
        self.summary.setWordWrap(True)
        self.bar = QProgressBar()
        self.bar.hide()
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.download_btn = QPushButton("Download")
        self.download_btn.clicked.connect(self.start_download)
        self.cancel_btn = QPushButton("Cancel download")
        self.cancel_btn.clicked.connect(self.cancel_download)
        self.cancel_btn.hide()
        self.use_btn = QPushButton("Use this model")
        self.use_btn.clicked.connect(self.use)
        row = QHBoxLayout()
        row.addWidget(self.status, 1)
        for b in (self.cancel_btn, self.download_btn, self.use_btn):
            row.addWidget(b)
        col = QVBoxLayout(self)
        for widget in (self.hardware, self.table, self.summary, self.bar):
            col.addWidget(widget, 1 if widget is self.table else 0)
        col.addLayout(row)
        self._cancel: CancelToken | None = None
        self._job: _Download | None = None
        self.rows: dict[str, CatalogRow] = {}
        self._pending: str | None = None  # selected before the list was filled
        self.hardware.setText("Looking at this computer…")
        engine.loaded.connect(self._loaded)
        engine.load_failed.connect(self._load_failed)
        engine.load_refused.connect(self._load_refused)
        self._detect = _Detect(self)
        self._detect.found.connect(self._fill)
        threading.Thread(target=self._find_hardware, name="hardware", daemon=True).start()

    # -- the list ------------------------------------------------------------------

    def _find_hardware(self) -> None:
        from assistant.core.models.hardware import detect

        try:
            self._detect.found.emit(detect(), None)
        except Exception as e:  # the catalog still shows, without badges' reasons
            log.exception("hardware detection failed")
            self._detect.found.emit(None, f"Could not look at this computer: {e}.")

    def _fill(self, hw, error: str | None) -> None:  # hw: Hardware | None
        from assistant.core.models.catalog import Fit, gb, load_catalog, with_fit
        from assistant.core.models.hardware import Hardware

        try:
            rows = with_fit(load_catalog(), hw or Hardware(ram_mb=0, cpu_cores=1))
        except AssistantError as e:
            error, rows = str(e), []
        if hw is None:  # no badge rather than a wrong one
            rows = [
                replace(r, fit=Fit("unknown", "", f"needs about {gb(r.entry.need_mb)} of memory"))
                for r in rows
            ]
        if error:
            self.status.setText(error)
            self.hardware.setText("")
        if hw is not None:
            gpu = ", ".join(f"{g.name} ({gb(g.vram_mb)})" for g in hw.gpus) or "no GPU"
            self.hardware.setText(
                f"This computer: {gb(hw.ram_mb)} of RAM, {hw.cpu_cores} CPU cores, {gpu}."
            )
        self.rows = {r.entry.id: r for r in rows}
        for r in rows:
            here = " (downloaded)" if self._path(r).exists() else ""
            e = r.entry
            item = QTreeWidgetItem(
                [e.name + here, BADGE_TEXT[r.fit.badge], gb(e.size_mb), e.license, r.fit.reason]
            )
            item.setData(0, Qt.ItemDataRole.UserRole, r.entry.id)
            self.table.addTopLevelItem(item)
        for i in range(4):
            self.table.resizeColumnToContents(i)
        if rows:  # the best that fits: the biggest with a "fits" badge, else the first
            fitting = [r for r in rows if r.fit.badge == "fits"]
            best = max(fitting, key=lambda r: r.entry.size_mb) if fitting else rows[0]
            self.select(self._pending or best.entry.id)

    def select(self, model_id: str) -> None:
        self._pending = None if self.rows else model_id
        for i in range(self.table.topLevelItemCount()):
            item = self.table.topLevelItem(i)
            if item.data(0, Qt.ItemDataRole.UserRole) == model_id:
                self.table.setCurrentItem(item)

    @property
    def current(self) -> CatalogRow | None:
        item = self.table.currentItem()
        return self.rows.get(item.data(0, Qt.ItemDataRole.UserRole)) if item else None

    def _path(self, row: CatalogRow) -> Path:
        return self._paths.models_dir / row.entry.file

    def _update(self) -> None:
        row = self.current
        busy = self._job is not None
        have = row is not None and self._path(row).exists()
        part = row is not None and self._path(row).with_name(row.entry.file + ".part").exists()
        self.download_btn.setEnabled(row is not None and not busy and not have)
        self.download_btn.setText(
            "Downloaded" if have else "Resume download" if part else "Download"
        )
        info = self._engine.model_info
        in_use = row is not None and info is not None and info.path == str(self._path(row))
        self.use_btn.setEnabled(have and not busy and not in_use)
        self.use_btn.setText("In use" if in_use else "Use this model")
        self.cancel_btn.setVisible(busy)
        if row is not None:
            part = self._path(row).with_name(row.entry.file + ".part")
            resume = " A partial download is here and will be resumed." if part.exists() else ""
            self.summary.setText(f"{row.entry.summary} From {row.entry.repo}.{resume}")

    # -- downloading -----------------------------------------------------------------

    def start_download(self) -> None:
        row = self.current
        if row is None or self._job is not None:
            return
        self._cancel = CancelToken()
        self._job = job = _Download(self)
        job.progress.connect(self._progress)
        job.done.connect(self._done)
        job.failed.connect(self._failed)
        self.bar.setValue(0)
        self.bar.show()
        self.status.setText(f"Downloading {row.entry.file}…")
        self._update()
        threading.Thread(
            target=self._run, args=(row, job, self._cancel), name="download", daemon=True
        ).start()

    def _run(self, row: CatalogRow, job: _Download, cancel: CancelToken) -> None:
        from assistant.core.models.downloads import download

        try:
            path = download(
                row.entry.repo,
                row.entry.file,
                self._paths.models_dir,
                pinned_sha256=row.entry.sha256,
                progress=job.progress.emit,
                cancel=cancel,
            )
        except Exception as e:  # never let a download take the app down
            job.failed.emit(failure_text(e, "The download failed", log))
            return
        job.done.emit(str(path))

    def cancel_download(self) -> None:
        if self._cancel is not None:
            self._cancel.cancel()

    def _progress(self, done: int, total: int) -> None:
        self.bar.setMaximum(1000)
        self.bar.setValue(done * 1000 // max(total, 1))
        self.bar.setFormat(f"%p%  ({done / 2**20:,.0f} of {total / 2**20:,.0f} MB)")

    def _done(self, path: str) -> None:
        self._job = None
        self.bar.hide()
        self.status.setText(f"Downloaded and verified: {path}")
        item, row = self.table.currentItem(), self.current
        if item is not None and row is not None and str(self._path(row)) == path:
            item.setText(0, f"{row.entry.name} (downloaded)")
        self._update()

    def _failed(self, message: str) -> None:
        self._job = None
        self.bar.hide()
        self.status.setText(message)
        self._update()

    def use(self) -> None:
        row = self.current
        if row is None or not self._path(row).exists():
            return
        self._use_model(str(self._path(row)))
        self.status.setText(f"Loading {row.entry.name}…")
        self.use_btn.setEnabled(False)

    def _loaded(self, info: ModelInfo) -> None:
        row = self.current
        if row is not None and info.path == str(self._path(row)):
            self.status.setText(f"{row.entry.name} is loaded: ask away in the window.")
        self._update()

    def _load_failed(self, message: str) -> None:
        if self.status.text().startswith("Loading "):
            self.status.setText(message)
        self._update()

    def _load_refused(self, message: str, _kept: object) -> None:
        self._load_failed(f"Not loaded; the current model stays. {message}")

    def done(self, result: int) -> None:  # closing: stop a download (it can resume)
        self.cancel_download()
        super().done(result)
