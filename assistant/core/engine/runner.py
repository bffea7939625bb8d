"""Jobs for the one engine, from other threads: the API server's way in.

The engine belongs to one long-lived thread. A caller hands it a *task* (a
function of the engine returning a generator of chunks) with a ``ChunkStream``;
the engine's thread runs tasks one at a time, in order, and the chunks reach the
caller's asyncio loop. ``ThreadRunner`` is that thread for `assistant serve`; the
window's engine thread runs the same tasks through ``run_task``.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, Protocol

from assistant.core.base.errors import AssistantError, ModelError
from assistant.core.base.types import CancelToken

log = logging.getLogger(__name__)

# (engine, cancel) -> chunks; run on the engine's thread, checks cancel between tokens
Task = Callable[[Any, CancelToken], Iterator[Any]]


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


def run_task(engine: Any, task: Task, stream: ChunkStream) -> None:
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


class ThreadRunner:
    """The engine on its own thread, for a headless server.

    The engine is loaded on that thread too (``load``) and only ever used there:
    llama.cpp's OpenMP team runs at a fraction of its speed (a third, measured on 2
    cores) when a thread other than the one that first computed with it drives it.
    """

    def __init__(self, load: Callable[[], Any] | None = None, start: bool = True) -> None:
        self.engine: Any = None
        self.load_error: BaseException | None = None
        self._loaded = threading.Event()
        self._jobs: queue.Queue[tuple[Task, ChunkStream] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._loop, args=(load,), name="engine", daemon=True)
        if start:
            self.start()

    def start(self) -> None:
        self._thread.start()

    def model_id(self) -> str | None:
        return getattr(self.engine, "name", None)

    def wait_loaded(self, timeout: float | None = None) -> Any:
        """The engine once loaded; the load's error if it failed."""
        self._loaded.wait(timeout)
        if self.load_error is not None:
            raise self.load_error
        return self.engine

    def submit(self, task: Task, stream: ChunkStream) -> None:
        self._jobs.put((task, stream))

    def _loop(self, load: Callable[[], Any] | None) -> None:
        if load is not None:
            try:
                self.engine = load()
            except BaseException as e:  # handed to wait_loaded()'s caller
                self.load_error = e
        self._loaded.set()
        while (job := self._jobs.get()) is not None:
            run_task(self.engine, *job)
        if self.engine is not None and load is not None:
            self.engine.close()  # on the thread that owns it

    def close(self, timeout: float = 30.0) -> None:
        if self._thread.is_alive():
            self._jobs.put(None)
            self._thread.join(timeout)
