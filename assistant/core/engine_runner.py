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
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, Protocol

from assistant.core.errors import AssistantError, ModelError
from assistant.core.types import CancelToken

log = logging.getLogger(__name__)

# (engine, cancel) -> chunks; run on the engine's thread, checks cancel between tokens
Task = Callable[[Any, CancelToken], Iterator[Any]]


class _End:
    def __init__(self, error: BaseException | None) -> None:
        self.error = error


class ChunkStream:
    """Chunks from the engine's thread to one asyncio consumer, with its cancel flag."""

    def __init__(self, loop: asyncio.AbstractEventLoop, cancel: CancelToken | None = None):
        self._loop = loop
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        self.cancel = cancel or CancelToken()

    def put(self, item: Any) -> None:
        """From the engine's thread."""
        try:
            self._loop.call_soon_threadsafe(self._queue.put_nowait, item)
        except RuntimeError:  # the server's loop is gone: nobody is listening
            self.cancel.cancel()

    def end(self, error: BaseException | None = None) -> None:
        self.put(_End(error))

    async def __aiter__(self) -> AsyncIterator[Any]:
        while True:
            item = await self._queue.get()
            if isinstance(item, _End):
                if item.error is not None:
                    raise item.error
                return
            yield item


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
    """The engine on its own thread, for a headless server."""

    def __init__(self, engine: Any = None) -> None:
        self.engine = engine  # may be set later, once loaded
        self._jobs: queue.Queue[tuple[Task, ChunkStream] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._loop, name="engine", daemon=True)
        self._thread.start()

    def model_id(self) -> str | None:
        return getattr(self.engine, "name", None)

    def submit(self, task: Task, stream: ChunkStream) -> None:
        self._jobs.put((task, stream))

    def _loop(self) -> None:
        while (job := self._jobs.get()) is not None:
            run_task(self.engine, *job)

    def close(self, timeout: float = 30.0) -> None:
        self._jobs.put(None)
        self._thread.join(timeout)
