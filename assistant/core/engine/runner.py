"""The engine's one long-lived thread, and the API server's way onto it.

The engine belongs to one thread: ``EngineRunner`` runs work there one piece at a
time, in order (loading the model, every answer, closing it). `assistant serve`
uses it directly; the window through a Qt adapter (ui/services/engine_client.py).
The API server hands in a *task* (a function of the engine returning a generator
of chunks) with a ``ChunkStream`` that carries the chunks to its asyncio loop.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import Future
from typing import Any, Protocol, TypeVar

from assistant.core.base.errors import AssistantError, ModelError
from assistant.core.base.types import CancelToken
from assistant.core.engine.protocol import Engine

log = logging.getLogger(__name__)

# (engine, cancel) -> chunks; run on the engine's thread, checks cancel between tokens
Task = Callable[[Engine, CancelToken], Iterator[Any]]
T = TypeVar("T")


class _End:
    def __init__(self, error: BaseException | None) -> None:
        self.error = error


class ChunkStream:
    """Chunks from the engine's thread to one asyncio consumer, with its cancel flag.

    The engine thread only wakes the event loop when the consumer is waiting, so a
    consumer that takes what has piled up (``batch``) costs one wake-up per batch,
    not one per token: on a machine whose cores all run the model, every wake-up
    is time taken from it.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, cancel: CancelToken | None = None):
        self._loop = loop
        self._items: deque[Any] = deque()
        self._lock = threading.Lock()
        self._ready = asyncio.Event()
        self._waiting = False
        self._done = False
        self.cancel = cancel or CancelToken()

    def put(self, item: Any) -> None:
        """From the engine's thread."""
        with self._lock:
            self._items.append(item)
            wake, self._waiting = self._waiting, False
        if wake:
            try:
                self._loop.call_soon_threadsafe(self._ready.set)
            except RuntimeError:  # the server's loop is gone: nobody is listening
                self.cancel.cancel()

    def end(self, error: BaseException | None = None) -> None:
        self.put(_End(error))

    async def _wait(self) -> None:
        while True:
            with self._lock:
                if self._items:
                    return
                self._waiting = True
                self._ready.clear()
            await self._ready.wait()

    def _take(self, limit: int | None) -> list[Any]:
        out: list[Any] = []
        with self._lock:
            while self._items and (limit is None or len(out) < limit):
                item = self._items[0]
                if isinstance(item, _End):
                    if out:  # deliver what came before the end first
                        break
                    self._items.popleft()
                    self._done = True
                    if item.error is not None:
                        raise item.error
                    break
                out.append(self._items.popleft())
        return out

    async def batch(self) -> list[Any]:
        """Everything that has arrived (at least one item); [] once the task ended."""
        if self._done:
            return []
        await self._wait()
        return self._take(None)

    async def __aiter__(self) -> AsyncIterator[Any]:
        while items := await self.batch():
            for item in items:
                yield item

    async def next(self) -> Any:
        """One item; StopAsyncIteration once the task ended."""
        if not self._done:
            await self._wait()
            items = self._take(1)
            if items:
                return items[0]
        raise StopAsyncIteration


def run_task(engine: Engine | None, task: Task, stream: ChunkStream) -> None:
    """Run one task on the engine's thread; everything it yields goes to the stream."""
    if stream.cancel.cancelled:  # its client left while it waited
        stream.end()
        return
    if engine is None:
        stream.end(ModelError("The model is not loaded yet.", "Try again in a moment."))
        return
    try:
        for chunk in task(engine, stream.cancel):
            stream.put(chunk)
    except Exception as e:  # becomes the client's error; the engine thread goes on
        if not isinstance(e, AssistantError):
            log.exception("API task failed")
        stream.end(e)
        return
    stream.end()


class Runner(Protocol):
    """What the API server needs from whoever owns the engine."""

    def model_id(self) -> str | None:
        """The chat model's name, or None while none is loaded."""
        ...

    def submit(self, task: Task, stream: ChunkStream) -> None: ...


class EngineRunner:
    """One long-lived thread that runs work in order: the engine is loaded, used and
    closed there, and nowhere else.

    llama.cpp's OpenMP team runs at a fraction of its speed (a third, measured on 2
    cores) when a thread other than the one that first computed with it drives it,
    so everything that touches the model goes through ``call``.
    """

    def __init__(self, name: str = "engine", start: bool = True) -> None:
        self._name = name
        self._jobs: queue.SimpleQueue[tuple[Callable[[], Any], Future[Any]] | None]
        self._jobs = queue.SimpleQueue()
        self._started = False
        self._ended = threading.Event()
        if start:
            self.start()

    def start(self, host: Callable[[Callable[[], None]], object] | None = None) -> None:
        """Begin the work queued so far (``start=False``: queued before the thread runs).

        The loop runs on a daemon thread of its own (a model load cannot be interrupted,
        and must not keep a quitting process alive: what matters is committed to SQLite),
        or on the thread that ``host`` starts for it (the window's adapter: a QThread)."""
        self._started = True
        if host is None:
            threading.Thread(target=self._serve, name=self._name, daemon=True).start()
        else:
            host(self._serve)

    def call(self, work: Callable[[], T]) -> Future[T]:
        """Run ``work`` on the engine's thread after what is queued before it."""
        done: Future[T] = Future()
        self._jobs.put((work, done))
        return done

    @property
    def alive(self) -> bool:
        return self._started and not self._ended.is_set()

    def _serve(self) -> None:
        try:
            while (job := self._jobs.get()) is not None:
                work, done = job
                if not done.set_running_or_notify_cancel():
                    continue
                try:
                    done.set_result(work())
                except BaseException as e:  # the caller's to read; the thread goes on
                    if not isinstance(e, AssistantError):
                        log.debug("engine work failed", exc_info=True)
                    done.set_exception(e)
        finally:
            self._ended.set()

    def close(self, timeout: float = 30.0) -> bool:
        """End the thread after the queued work; False if still busy after ``timeout``."""
        if self.alive:
            self._jobs.put(None)
            self._ended.wait(timeout)
        return not self.alive


class ServedEngine:
    """The API server's way to an engine that lives on an ``EngineRunner`` (a ``Runner``)."""

    def __init__(self, runner: EngineRunner, engine: Callable[[], Engine | None]) -> None:
        self._runner = runner
        self._engine = engine  # the one loaded now, None while none is (read from any thread)

    def model_id(self) -> str | None:
        engine = self._engine()
        return engine.name if engine is not None else None

    def submit(self, task: Task, stream: ChunkStream) -> None:
        self._runner.call(lambda: run_task(self._engine(), task, stream))


def result_or_none(future: Future[T]) -> T | None:
    """What finished work returned; None while it runs or when it failed."""
    if not future.done() or future.cancelled() or future.exception() is not None:
        return None
    return future.result()
