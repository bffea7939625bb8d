"""The window's handle on the engine: the core ``EngineRunner`` behind Qt signals.

The GUI thread never waits on the model. ``EngineClient`` queues work onto the
runner's thread (the chat session's model lives there) and the results come back as
signals, queued onto the GUI thread because the objects that emit them live there.
Each answer is its own small ``Answer`` object with its own signals, so a view hears
only the answer it asked for. Stopping sets the answer's CancelToken directly (a
thread-safe flag the engine checks between tokens).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

from PySide6.QtCore import QObject, QThread, Signal

from assistant.core.base.errors import AssistantError, failure_text
from assistant.core.base.types import (
    CancelToken,
    Chunk,
    ContextNotice,
    Done,
    MemoryNotice,
    ModelInfo,
    RecallNotice,
    TextChunk,
)
from assistant.core.chat.service import ChatService
from assistant.core.chat.session import ChatSession
from assistant.core.config.settings import Settings
from assistant.core.engine.runner import ChunkStream, EngineRunner, Task, run_task
from assistant.ui.services.live_settings import LiveSettings

log = logging.getLogger(__name__)


class Answer(QObject):
    """One answer on its way. Its signals come from the engine's thread and reach
    slots on the GUI thread queued, in order; exactly one of finished / failed ends it."""

    started = Signal()
    chunk = Signal(str)
    notice = Signal(str)  # the conversation was cut to fit the context window
    recalled = Signal(object)  # list of RecallItems: the sources under the answer
    memory_notice = Signal(object)  # MemoryNotice: facts saved or proposed
    finished = Signal(object)  # Done
    failed = Signal(str)

    def __init__(self, conversation_id: int, parent: QObject) -> None:
        super().__init__(parent)
        self.conversation_id = conversation_id
        self.cancel = CancelToken()

    def deliver(self, chunks: Callable[[], Iterator[Chunk]]) -> None:
        """On the engine's thread: the answer's chunks out as this object's signals.
        After ``Done`` the stream still runs its after-answer work (memory), unseen."""
        done = False
        try:
            stream = chunks()  # the question is committed here
            self.started.emit()
            for c in stream:
                if done:
                    continue
                if isinstance(c, TextChunk):
                    self.chunk.emit(c.text)
                elif isinstance(c, ContextNotice):
                    self.notice.emit(c.message)
                elif isinstance(c, RecallNotice):
                    self.recalled.emit(list(c.items))
                elif isinstance(c, MemoryNotice):
                    self.memory_notice.emit(c)
                elif isinstance(c, Done):
                    self.finished.emit(c)
                    done = True
        except Exception as e:
            self._fail(done, failure_text(e, "The answer failed", log))
            return
        self._fail(done, "The answer ended without a result.")

    def _fail(self, done: bool, message: str) -> None:
        if done:  # the answer is whole and saved; what failed after it is only logged
            log.debug("after the answer: %s", message)
        else:
            self.failed.emit(message)


Watch = Callable[[Answer], None] | None


class _Host(QThread):
    """The QThread the runner's loop runs on. A plain Python thread served the window
    worse: the worst stall of the window while an answer streamed was 46 ms against 28 ms
    on a QThread (medians of 5 interleaved runs of bench/gui_latency.py; why is not
    pinned down), and 18–24 ms before the runner moved into core."""

    def __init__(self, loop: Callable[[], None]) -> None:
        super().__init__()
        self.setObjectName("engine")
        self._loop = loop

    def run(self) -> None:
        self._loop()


class EngineClient(QObject):
    """Every view's handle on the one engine (a model load, answers, the API's tasks).

    ``model_info`` is what the loaded model says of itself (None while none is loaded
    or a load is under way); ``answering`` the answers queued or running."""

    load_started = Signal()  # a load was asked for (emitted at once, on the GUI thread)
    loading = Signal(str)  # the load began on the engine's thread: the model's path
    loaded = Signal(object)  # ModelInfo
    load_failed = Signal(str)
    load_refused = Signal(str, object)  # why, and the ModelSettings of the model that stays
    prefilled = Signal(int)  # prompt tokens cached by a read-ahead while typing
    answer_started = Signal(object)  # Answer, any view's
    answer_ended = Signal(object)  # Answer
    memory_ready = Signal(str)  # a notice to show ("index rebuilt …") or ""
    index_notice = Signal(str)  # the memory index was rebuilt (at open, or after damage)
    memory_failed = Signal(str)

    def __init__(
        self, session: ChatSession, live: LiveSettings, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self._runner = EngineRunner(start=False)
        self._host: _Host | None = None
        self._runner.start(host=self._start_host)
        self._session = session  # used on the runner's thread only
        session.on_index_notice(self.index_notice.emit)
        # Connected before any view's: the state is up to date when their slots run.
        self.loaded.connect(self._loaded)
        self.load_failed.connect(self._load_failed)
        live.changed.connect(lambda new, _old: self._call(lambda: session.update_settings(new)))
        self.current: Answer | None = None
        self._prefill_cancel: CancelToken | None = None
        self.model_info: ModelInfo | None = None
        self.answering: set[Answer] = set()
        self._retired: Answer | None = None  # the answer that ended last

    def _start_host(self, loop: Callable[[], None]) -> None:
        self._host = _Host(loop)
        self._host.start()

    def _call(self, work: Callable[[], object]) -> None:
        self._runner.call(work)

    def _loaded(self, info: ModelInfo) -> None:
        self.model_info = info

    def _load_failed(self, _message: str) -> None:
        self.model_info = None

    # -- the model ----------------------------------------------------------------

    def load(self, settings: Settings, model_path: str | None = None) -> None:
        """Load the model ``settings`` name (or ``model_path``). A switch away from a
        working model that cannot be made keeps it (``load_refused`` says why; ``loaded``
        repeats what stays)."""
        self.model_info = None
        self.load_started.emit()
        self._call(lambda: self._load(settings, model_path))

    def _load(self, settings: Settings, model_path: str | None) -> None:
        session = self._session
        self.loading.emit(settings.model.path or "the starter model")
        if settings.memory.enabled:
            session.open_memory_beside(self.memory_ready.emit, self.memory_failed.emit)
        result = session.switch(settings, model_path)
        if result.info is None:
            self.load_failed.emit(result.error)
            return
        self.loaded.emit(result.info)
        if result.refused:
            self.load_refused.emit(result.refused, result.kept)

    # -- answers ------------------------------------------------------------------

    # Each takes ``watch``: called with the new Answer before its work is queued, so the
    # asking view connects to its signals before the engine's thread can emit any.

    def send(
        self, conversation_id: int, text: str, documents_only: bool = False, watch: Watch = None
    ) -> Answer:
        return self._answer(
            conversation_id,
            lambda s, c: s.send(conversation_id, text, c, None, documents_only),
            watch,
        )

    def regenerate(
        self, conversation_id: int, documents_only: bool = False, watch: Watch = None
    ) -> Answer:
        return self._answer(
            conversation_id,
            lambda s, c: s.regenerate(conversation_id, c, None, documents_only),
            watch,
        )

    def edit(
        self,
        conversation_id: int,
        message_id: int,
        text: str,
        documents_only: bool = False,
        watch: Watch = None,
    ) -> Answer:
        return self._answer(
            conversation_id,
            lambda s, c: s.edit(message_id, text, c, None, documents_only),
            watch,
        )

    def _answer(
        self,
        conversation_id: int,
        chunks: Callable[[ChatService, CancelToken], Iterator[Chunk]],
        watch: Watch,
    ) -> Answer:
        self._cancel_prefill()  # a real answer goes first
        answer = Answer(conversation_id, self)
        answer.finished.connect(lambda _done: self._ended(answer))
        answer.failed.connect(lambda _why: self._ended(answer))
        self.current = answer
        self.answering.add(answer)
        if watch is not None:
            watch(answer)
        self.answer_started.emit(answer)  # direct: its slots run now, before the work

        def run() -> None:
            try:
                service = self._session.ready_service()
            except AssistantError as e:  # after a failed load: why, not "not yet"
                answer.failed.emit(str(e))
                return
            answer.deliver(lambda: chunks(service, answer.cancel))

        self._call(run)
        return answer

    def _ended(self, answer: Answer) -> None:
        self.answering.discard(answer)
        if self.current is answer:
            self.current = None
        self.answer_ended.emit(answer)
        # Not this one yet: deleting a sender drops its queued signals that have not been
        # delivered (the views' own slots for this very signal). The one before it has
        # had all of its signals delivered by now: they were queued before this one's.
        if self._retired is not None:
            self._retired.deleteLater()
        self._retired = answer

    def stop(self, answer: Answer | None = None) -> None:
        """Cancel ``answer`` (by default the latest one asked for)."""
        answer = answer or self.current
        if answer is not None:
            answer.cancel.cancel()

    # -- work beside the answers ------------------------------------------------------

    def prefill(self, conversation_id: int, draft: str) -> None:
        """While the user types: evaluate the prompt so far, so sending is quick."""
        self._cancel_prefill()
        cancel = self._prefill_cancel = CancelToken()

        def run() -> None:
            n = self._session.prefill(conversation_id, draft, cancel)
            log.debug("prefilled %d prompt tokens while typing", n)
            self.prefilled.emit(n)

        self._call(run)

    def _cancel_prefill(self) -> None:
        if self._prefill_cancel is not None:
            self._prefill_cancel.cancel()
            self._prefill_cancel = None

    def sync_memory(self) -> None:
        """Bring the index in line with SQLite between answers (on the engine's thread)."""
        self._call(self._session.sync_memory)

    def run_task(self, task: Task, stream: ChunkStream) -> None:
        """From any thread (the API server's): run a task on the engine's thread, in turn."""
        self._call(lambda: run_task(self._session.engine, task, stream))

    # -- closing --------------------------------------------------------------------

    def close(self, timeout_ms: int = 10_000) -> bool:
        """Stop any answer (the partial text is saved as stopped) and end the thread.

        Returns False when the thread is still busy after ``timeout_ms`` (a model load,
        say); the app then leaves without waiting for it (see app.run)."""
        for answer in list(self.answering):
            answer.cancel.cancel()
        self._cancel_prefill()
        self._call(self._session.close)  # after the current answer, on its thread
        if self._runner.close(timeout_ms / 1000):
            return True
        log.warning("engine thread still busy at exit")
        _still_busy.append(self)  # never let Python destroy a running QThread
        self.setParent(None)
        return False

    @property
    def running(self) -> bool:
        return self._runner.alive


_still_busy: list[EngineClient] = []


def engine_threads_running() -> bool:
    return any(c.running for c in _still_busy)
