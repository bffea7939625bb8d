"""The local API server inside the app: on while `api.enabled`, feeding its requests
to the app's one engine thread, so they queue with the window's answers."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject

from assistant.core.base.errors import AssistantError
from assistant.core.base.paths import Paths
from assistant.core.config.settings import Settings
from assistant.core.memory.service import MemoryService
from assistant.ui.common.message import Messages
from assistant.ui.services.engine_client import EngineClient
from assistant.ui.services.live_settings import LiveSettings

if TYPE_CHECKING:
    from assistant.core.engine.runner import ChunkStream, Task

log = logging.getLogger(__name__)


class WindowRunner:
    """The API server's way to the app's engine (see core.engine.runner.Runner)."""

    def __init__(self, engine: EngineClient) -> None:
        self._engine = engine

    def model_id(self) -> str | None:
        info = self._engine.model_info  # None while (re)loading
        return info.name if info else None

    def submit(self, task: Task, stream: ChunkStream) -> None:
        # From the server's thread, onto the engine's thread's queue.
        self._engine.run_task(task, stream)


class ApiControl(QObject):
    def __init__(
        self,
        paths: Paths,
        engine: EngineClient,
        memory: MemoryService,
        live: LiveSettings,
        messages: Messages,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._paths, self._engine, self._memory = paths, engine, memory
        self._live, self._messages = live, messages
        self.server: Any = None

    @property
    def running(self) -> bool:
        return self.server is not None

    def apply(self, settings: Settings) -> None:
        want = settings.api.enabled
        if self.server is not None and (not want or self.server.port != settings.api.port):
            self.stop()
        if want and self.server is None:
            self.start(settings.api.port)

    def start(self, port: int) -> None:
        from assistant.core.api.server import ApiApp, ApiServer
        from assistant.core.api.token import get_token

        paths, live, memory = self._paths, self._live, self._memory
        api = ApiApp(
            WindowRunner(self._engine),
            token=lambda: get_token(paths),
            defaults=lambda: live.current.generation,
            embedder=lambda: memory.knowledge.embedder,
        )
        server = ApiServer(api, port)
        try:
            get_token(paths)  # made now, so Settings can show it
            server.start()
        except (AssistantError, OSError) as e:
            reason = e.message if isinstance(e, AssistantError) else str(e)
            self._messages.show_banner(
                f"API server: {reason} Pick another port in Settings → API server.", "api"
            )
            return
        self.server = server
        self._messages.hide_banner("api")
        self._messages.info(f"API server on {server.base_url}", 8000)

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None
            self._messages.hide_banner("api")
