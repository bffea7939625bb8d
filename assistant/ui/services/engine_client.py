"""The engine on its own long-lived QThread, talking to widgets only through signals.

The GUI thread never waits on the model: it emits ``requested`` and gets
``chunk``/``finished``/``failed`` back (queued connections). Stopping sets the
request's CancelToken directly (a thread-safe flag the engine checks between
tokens). llama_cpp is imported inside ``load``, on the worker thread.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QObject, QThread, Signal, Slot

from assistant.core.base.cpu_threads import run_in_background
from assistant.core.base.errors import AssistantError
from assistant.core.base.types import (
    CancelToken,
    ContextNotice,
    Done,
    MemoryNotice,
    ModelInfo,
    RecallNotice,
    TextChunk,
)
from assistant.core.config.settings import Settings
from assistant.core.history.store import HistoryStore
from assistant.core.memory.service import MemoryService
from assistant.ui.services.live_settings import LiveSettings

log = logging.getLogger(__name__)


@dataclass
class Job:
    """One answer to produce. ``action``: send | regenerate | edit | prefill | sync | api."""

    id: int
    action: str
    conversation_id: int
    text: str = ""
    message_id: int | None = None
    documents_only: bool = False
    cancel: CancelToken = field(default_factory=CancelToken)
    task: Any = None  # for "api": (core.engine_runner Task, ChunkStream)


class EngineWorker(QObject):
    loading = Signal(str)
    loaded = Signal(object)  # ModelInfo
    load_failed = Signal(str)
    load_refused = Signal(str, object)  # why, and the ModelSettings of the model that stays
    started = Signal(int, int)  # job id, conversation id
    chunk = Signal(int, str)
    notice = Signal(int, str)
    finished = Signal(int, object)  # job id, Done
    failed = Signal(int, str)
    prefilled = Signal(int)  # prompt tokens cached by a read-ahead while typing
    recalled = Signal(int, object)  # job id, list of recalled item dicts
    memory_notice = Signal(int, object)  # job id, MemoryNotice
    memory_ready = Signal(str)  # a notice to show ("index rebuilt …") or ""
    index_notice = Signal(str)  # the memory index was rebuilt (at open, or after damage)
    memory_failed = Signal(str)

    def __init__(self, store: HistoryStore, memory: MemoryService) -> None:
        super().__init__()
        # The engine thread's own connection (thread-safe); the window has another.
        self._store: Any = store
        self.memory = memory
        self.memory.on_notice = self.index_notice.emit
        self._engine: Any = None
        self._service: Any = None
        self._memory_started = False
        self._load_error: str | None = None
        self._loaded_settings: Settings | None = None  # what the loaded engine was opened with

    @Slot(object, object)
    def load(self, settings: Settings, model_path: str | None = None) -> None:
        """Load the model ``settings`` name. A switch away from a working model checks
        the new file first and, if it cannot be used, keeps the working one loaded
        (``load_refused`` says why; ``loaded`` repeats what stays)."""
        self.loading.emit(settings.model.path or "the starter model")
        if settings.memory.enabled and not self._memory_started:
            # Beside the model, at a lower priority: the embedder (about a second) is
            # then ready when the first question comes, which recall needs.
            self._memory_started = True
            self.memory.open_soon()
            threading.Thread(target=self._open_memory, name="memory", daemon=True).start()
        previous = self._loaded_settings if self._engine is not None else None
        if previous is not None and not (settings.model.remote_url and model_path is None):
            try:
                from assistant.core.models.model_files import check_choice

                check_choice(model_path if model_path is not None else settings.model.path)
            except AssistantError as e:
                self._refuse(str(e), previous)
                return
        if self._open(settings, model_path):
            self._loaded_settings = settings
        elif previous is not None and self._open(previous, None):
            # The file passed its checks but did not load (memory, say): back to the old one.
            self._refuse(self._load_error or "The model did not load.", previous)
            return
        else:
            self._loaded_settings = None
            self.load_failed.emit(self._load_error or "The model did not load.")
            return
        self._load_error = None
        self.loaded.emit(self._engine.describe())

    def _open(self, settings: Settings, model_path: str | None) -> bool:
        from assistant.core.chat.service import ChatService
        from assistant.core.engine.llama import open_engine

        try:
            if self._engine is not None:
                self._engine.close()
                self._engine = None
                self._service = None
            self._engine = open_engine(settings.model, model_path)
        except AssistantError as e:
            self._load_error = str(e)
            return False
        except Exception as e:  # never let a load take the app down
            log.exception("model load failed")
            self._load_error = f"Could not load the model: {e}."
            return False
        self._service = ChatService(self._store, self._engine, settings, self.memory)
        return True

    def _refuse(self, reason: str, kept: Settings) -> None:
        log.info("model change refused: %s", reason)
        self._load_error = None
        self.loaded.emit(self._engine.describe())
        self.load_refused.emit(reason, kept.model)

    def _open_memory(self) -> None:
        """Load the embedder and open (or rebuild) the index, off every Qt thread."""
        run_in_background()  # a first answer meanwhile searches the cached vectors
        try:
            self.memory.ensure_open()
        except AssistantError as e:
            self.memory_failed.emit(str(e))
            return
        except Exception as e:
            log.exception("memory failed to open")
            self.memory_failed.emit(f"Memory is unavailable: {type(e).__name__}: {e}.")
            return
        self.memory_ready.emit(self.memory.knowledge.take_notice() or "")

    @Slot(object)
    def update_settings(self, settings: Settings) -> None:
        if self._service is not None:
            self._service.settings = settings
        self.memory.settings = settings.memory
        self.memory.knowledge.settings = settings.memory

    @Slot(object)
    def run(self, job: Job) -> None:
        if job.action == "api":  # an API request: queued here like the window's own
            from assistant.core.engine.runner import run_task

            run_task(self._engine, *job.task)
            return
        if job.action == "sync":
            self._sync()
            return
        if self._service is None:
            # After a failed load, say why rather than "not yet": nothing is coming.
            self.failed.emit(job.id, self._load_error or "The model is not loaded yet.")
            return
        if job.action == "prefill":
            self._prefill(job)
            return
        docs = job.documents_only
        try:
            if job.action == "send":
                chunks = self._service.send(job.conversation_id, job.text, job.cancel, None, docs)
            elif job.action == "regenerate":
                chunks = self._service.regenerate(job.conversation_id, job.cancel, None, docs)
            elif job.action == "edit":
                chunks = self._service.edit(job.message_id, job.text, job.cancel, None, docs)
            else:
                raise ValueError(f"unknown action {job.action}")
            self.started.emit(job.id, job.conversation_id)
            for c in chunks:
                if isinstance(c, TextChunk):
                    self.chunk.emit(job.id, c.text)
                elif isinstance(c, ContextNotice):
                    self.notice.emit(job.id, c.message)
                elif isinstance(c, RecallNotice):
                    self.recalled.emit(job.id, list(c.items))
                elif isinstance(c, MemoryNotice):
                    self.memory_notice.emit(job.id, c)
                elif isinstance(c, Done):
                    self.finished.emit(job.id, c)
        except AssistantError as e:
            self.failed.emit(job.id, str(e))
        except Exception as e:
            log.exception("generation failed")
            self.failed.emit(job.id, f"The answer failed: {type(e).__name__}: {e}.")

    def _sync(self) -> None:
        """After edits in the memory window: drop forgotten facts from the index now."""
        try:
            if self.memory.knowledge.index is not None:
                self.memory.knowledge.sync_if_changed()
        except Exception:  # the next recall syncs again
            log.warning("memory index sync failed", exc_info=True)

    def _prefill(self, job: Job) -> None:
        """Evaluate the conversation plus the draft being typed; errors are only logged."""
        if job.cancel.cancelled or self._engine is None:
            return
        try:
            request = self._service.draft_request(job.conversation_id, job.text)
            n = self._engine.prefill(request, cancel=job.cancel)
            log.debug("prefilled %d prompt tokens while typing", n)
        except Exception:  # an optimisation only
            log.debug("prefill skipped", exc_info=True)
            n = 0
        self.prefilled.emit(n)

    @Slot()
    def shutdown(self) -> None:
        if self._engine is not None:
            self._engine.close()
            self._engine = None
        self.memory.knowledge.close()
        if self._store is not None:
            self._store.close()
            self._store = None
        thread = self.thread()
        if thread is not None:
            thread.quit()


class EngineThread(QObject):
    """Owns the worker and its thread; every view talks to this object.

    ``model_info`` is what the loaded model says of itself (None while none is
    loaded or a load is under way); ``answering`` the answers queued or running."""

    request_load = Signal(object, object)
    request_run = Signal(object)
    request_settings = Signal(object)
    request_shutdown = Signal()
    load_started = Signal()  # a load was asked for (on the GUI thread, at once)

    def __init__(
        self,
        store: HistoryStore,
        memory: MemoryService,
        live: LiveSettings,
        parent: QObject | None = None,
    ):
        super().__init__(parent)
        self.thread = QThread()
        self.thread.setObjectName("engine")
        self.worker = EngineWorker(store, memory)
        self.worker.moveToThread(self.thread)
        self.request_load.connect(self.worker.load)
        self.request_run.connect(self.worker.run)
        self.request_settings.connect(self.worker.update_settings)
        self.request_shutdown.connect(self.worker.shutdown)
        # Connected before any view's: the state is up to date when their slots run.
        self.worker.loaded.connect(self._loaded)
        self.worker.load_failed.connect(self._load_failed)
        self.worker.finished.connect(self._answered)
        self.worker.failed.connect(self._answered)
        live.changed.connect(lambda new, _old: self.request_settings.emit(new))
        self.thread.start()
        self._next_id = 0
        self.current: Job | None = None
        self._prefill_job: Job | None = None
        self.model_info: ModelInfo | None = None
        self.answering: set[int] = set()  # job ids of answers not finished yet

    def _loaded(self, info: ModelInfo) -> None:
        self.model_info = info

    def _load_failed(self, _message: str) -> None:
        self.model_info = None

    def _answered(self, job_id: int, _result: object) -> None:
        self.answering.discard(job_id)

    def load(self, settings: Settings, model_path: str | None = None) -> None:
        self.model_info = None
        self.load_started.emit()
        self.request_load.emit(settings, model_path)

    def submit(
        self,
        action: str,
        conversation_id: int,
        text: str = "",
        message_id: int | None = None,
        documents_only: bool = False,
    ) -> Job:
        self._cancel_prefill()  # a real answer goes first
        self._next_id += 1
        job = Job(self._next_id, action, conversation_id, text, message_id, documents_only)
        self.current = job
        self.answering.add(job.id)
        self.request_run.emit(job)
        return job

    def run_task(self, task: Any, stream: Any) -> None:
        """From any thread (the API server's): run a task on the engine thread, in turn."""
        self.request_run.emit(Job(0, "api", 0, task=(task, stream)))

    def prefill(self, conversation_id: int, draft: str) -> None:
        """While the user types: evaluate the prompt so far, so sending is quick."""
        self._cancel_prefill()
        self._next_id += 1
        self._prefill_job = Job(self._next_id, "prefill", conversation_id, draft)
        self.request_run.emit(self._prefill_job)

    def sync_memory(self) -> None:
        """Bring the index in line with SQLite between answers (on the engine thread)."""
        self._next_id += 1
        self.request_run.emit(Job(self._next_id, "sync", 0))

    def _cancel_prefill(self) -> None:
        if self._prefill_job is not None:
            self._prefill_job.cancel.cancel()
            self._prefill_job = None

    def stop(self, job: Job | None = None) -> None:
        """Cancel ``job`` (by default the latest one submitted)."""
        job = job or self.current
        if job is not None:
            job.cancel.cancel()

    def close(self, timeout_ms: int = 10_000) -> bool:
        """Stop any answer (the partial text is saved as stopped) and end the thread.

        Returns False when the thread is still busy after ``timeout_ms`` (a model
        load, say); the caller must then not destroy it (see app.run).
        """
        self.stop()
        self._cancel_prefill()
        self.request_shutdown.emit()  # runs after the current answer; then quits the thread
        if self.thread.wait(timeout_ms):
            return True
        log.warning("engine thread still busy at exit")
        _keep_alive.append(self)  # never let Python destroy a running QThread
        self.setParent(None)
        return False


_keep_alive: list[EngineThread] = []


def engine_threads_running() -> bool:
    return any(e.thread.isRunning() for e in _keep_alive)
