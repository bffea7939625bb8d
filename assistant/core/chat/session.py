"""One chat's parts, wired once: the history store, memory over it, the model and the
``ChatService`` on top. The CLI, the window and the API server all open it here.

The model is opened, used and closed on one thread: the CLI's main thread, or the
window's engine runner (core/engine/runner.py), which calls these methods there.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from assistant.core.base.cpu_threads import run_in_background
from assistant.core.base.errors import AssistantError, failure_text
from assistant.core.base.paths import Paths
from assistant.core.base.types import CancelToken, ModelInfo
from assistant.core.chat.service import ChatService
from assistant.core.config.settings import ModelSettings, Settings
from assistant.core.engine.llama import open_engine
from assistant.core.engine.protocol import Engine
from assistant.core.history.store import HistoryStore
from assistant.core.memory.service import MemoryService
from assistant.core.models.model_files import check_choice

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoadResult:
    """How a model change went. ``info``: the model loaded now (the new one, or the one
    kept), None when none is; ``refused``: why the asked-for model was not taken."""

    info: ModelInfo | None
    error: str = ""  # why no model is loaded
    refused: str = ""
    kept: ModelSettings | None = None  # the model settings still in force after a refusal


class ChatSession:
    def __init__(self, store: HistoryStore, memory: MemoryService) -> None:
        self.store = store
        self.memory = memory
        self.engine: Engine | None = None
        self.service: ChatService | None = None
        self._load_error = ""  # why the last load failed, said to whoever asks meanwhile
        self._opened_with: Settings | None = None  # what the engine was opened with
        self._memory_started = False

    # -- the model ----------------------------------------------------------------

    def open_model(self, settings: Settings, model_path: str | Path | None = None) -> Engine:
        """Close the model in use and open ``model_path`` (or the one ``settings`` name);
        raises ModelError (the CLI's way: one clear line)."""
        self.close_model()
        self.engine = open_engine(settings.model, model_path)
        self._opened_with = settings
        self.service = ChatService(self.store, self.engine, settings, self.memory)
        return self.engine

    def switch(self, settings: Settings, model_path: str | None = None) -> LoadResult:
        """The window's load and model change; never raises. A change away from a working
        model checks the new file first and, if it cannot be used, keeps the working one
        (``refused``); a file that passes but does not load (memory, say) brings the
        working one back."""
        previous = self._opened_with if self.engine is not None else None
        if previous is not None and not (settings.model.remote_url and model_path is None):
            try:
                check_choice(model_path if model_path is not None else settings.model.path)
            except AssistantError as e:
                return self._refused(str(e), previous)
        error = self._try_open(settings, model_path)
        if error is None:
            self._load_error = ""
            return LoadResult(self._describe())
        if previous is not None and self._try_open(previous, None) is None:
            return self._refused(error, previous)
        self._load_error = error
        return LoadResult(None, error=error)

    def _try_open(self, settings: Settings, model_path: str | None) -> str | None:
        try:
            self.open_model(settings, model_path)
        except Exception as e:  # never let a load take the app down
            return failure_text(e, "Could not load the model", log)
        return None

    def _refused(self, reason: str, kept: Settings) -> LoadResult:
        log.info("model change refused: %s", reason)
        self._load_error = ""
        return LoadResult(self._describe(), refused=reason, kept=kept.model)

    def _describe(self) -> ModelInfo:
        assert self.engine is not None
        return self.engine.describe()

    def ready_service(self) -> ChatService:
        """The chat service, or the reason there is none (raised)."""
        if self.service is None:
            raise AssistantError(self._load_error or "The model is not loaded yet.")
        return self.service

    def prefill(self, conversation_id: int, draft: str, cancel: CancelToken) -> int:
        """Evaluate the conversation plus the draft being typed; an optimisation only,
        so nothing here fails: the prompt tokens now cached, or 0."""
        if cancel.cancelled or self.engine is None or self.service is None:
            return 0
        try:
            request = self.service.draft_request(conversation_id, draft)
            return self.engine.prefill(request, cancel=cancel)
        except Exception:
            log.debug("prefill skipped", exc_info=True)
            return 0

    def close_model(self) -> None:
        engine, self.engine, self.service = self.engine, None, None
        if engine is not None:
            engine.close()

    # -- settings and memory --------------------------------------------------------

    def update_settings(self, settings: Settings) -> None:
        if self.service is not None:
            self.service.settings = settings
        self.memory.use_settings(settings.memory)

    def open_memory_beside(
        self, ready: Callable[[str], None], failed: Callable[[str], None]
    ) -> None:
        """Open memory (the embedder, the index) on a thread of its own at a lower CPU
        priority, once: beside the model it is ready when the first question comes, and
        a first answer meanwhile searches the cached vectors. ``ready`` gets what opening
        had to say ("index rebuilt …", or ""), ``failed`` why memory is unavailable."""
        if self._memory_started:
            return
        self._memory_started = True
        self.memory.open_soon()

        def run() -> None:
            run_in_background()
            try:
                self.memory.ensure_open()
            except Exception as e:
                failed(failure_text(e, "Memory is unavailable", log))
                return
            ready(self.memory.take_notice())

        threading.Thread(target=run, name="memory", daemon=True).start()

    def on_index_notice(self, tell: Callable[[str], None]) -> None:
        """``tell`` hears once about an index rebuilt at open or after damage."""
        self.memory.on_notice = tell

    def sync_memory(self) -> None:
        try:
            self.memory.sync_index()
        except Exception:  # the next recall syncs again
            log.warning("memory index sync failed", exc_info=True)

    # -- closing --------------------------------------------------------------------

    def close(self) -> None:
        self.close_model()
        self.memory.close()
        self.store.close()

    def __enter__(self) -> ChatSession:
        return self

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _value: BaseException | None,
        _tb: TracebackType | None,
    ) -> None:
        self.close()


def open_session(
    paths: Paths,
    settings: Settings,
    *,
    recall_only: bool = False,
    on_notice: Callable[[str], None] | None = None,
) -> ChatSession:
    """History (its own connection: use it on one thread), memory over it, no model yet.

    ``recall_only``: a one-shot question recalls from the cached vectors without opening
    chromadb; ``on_notice`` is told once about an index rebuilt at open or after damage.
    """
    store = HistoryStore(paths.history_db, paths.backups_dir)
    memory = MemoryService(store, paths, settings.memory, recall_only=recall_only)
    memory.on_notice = on_notice
    return ChatSession(store, memory)
