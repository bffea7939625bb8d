"""The status bar's lasting part: the model and where it runs, the answer's speed, and
how much of the context window the conversation uses."""

from __future__ import annotations

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QLabel, QStatusBar

from assistant.core.base.types import ModelInfo
from assistant.ui.common.message import Messages
from assistant.ui.services.engine_client import EngineClient

PROGRESS_EVERY = 8  # tokens between "answering… N tokens" updates: exact figures come with Done


class StatusLine(QObject):
    def __init__(self, bar: QStatusBar, engine: EngineClient, messages: Messages) -> None:
        super().__init__(bar)
        self._messages = messages
        self._pieces = 0
        self.model_label = QLabel("Loading model…")
        self.speed_label = QLabel("")
        self.ctx_label = QLabel("")
        for w in (self.model_label, self.speed_label, self.ctx_label):
            w.setContentsMargins(8, 0, 8, 0)
            bar.addPermanentWidget(w)
        engine.load_started.connect(lambda: self.model_label.setText("Loading model…"))
        engine.loaded.connect(self._loaded)
        engine.load_failed.connect(lambda _why: self.model_label.setText("No model loaded"))

    def _loaded(self, info: ModelInfo) -> None:
        note = info.offload_note
        if note:
            self._messages.info(note, 15000)
        threads = info.threads
        where = f"{threads} thread{'s' if threads != 1 else ''}" if threads else "remote"
        gpu = f" · GPU {info.gpu_layers} layers" if info.gpu_layers else ""
        self.model_label.setText(f"{info.name}{gpu} · {where}")
        self.model_label.setToolTip(note)  # stays after the message
        text = self.ctx_label.text()
        if not text.startswith("context ") or "—" in text:  # no answer's figures on show
            self.ctx_label.setText(f"context —/{info.n_ctx:,}")

    def show_report(self, stats: dict, n_ctx: int | None) -> None:
        """The figures of the answer on screen (``stats`` empty: none yet)."""
        report = stats.get("prompt")
        if report:
            used = report["total_tokens"] + stats.get("generated_tokens", 0)
            self.ctx_label.setText(f"context {used:,}/{report['n_ctx']:,}")
        else:
            self.ctx_label.setText(f"context —/{n_ctx:,}" if n_ctx else "")
        tps, n = stats.get("tokens_per_s", 0.0), stats.get("generated_tokens", 0)
        self.speed_label.setText(f"{tps:.1f} tok/s" if tps and n > 1 else "")

    def answer_started(self, model_loaded: bool) -> None:
        self._pieces = 0
        self.speed_label.setText("reading the conversation…" if model_loaded else "")

    def answer_piece(self) -> None:
        self._pieces += 1
        if self._pieces % PROGRESS_EVERY == 1:
            self.speed_label.setText(f"answering… {self._pieces} tokens")

    def answer_failed(self) -> None:
        self.speed_label.setText("")
