"""The local API server inside the app: on while `api.enabled`, feeding its requests
to the window's own engine thread, so they queue with the window's answers."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject

from assistant.core.base.errors import AssistantError
from assistant.core.config.settings import Settings

if TYPE_CHECKING:
    from assistant.core.engine.runner import ChunkStream, Task
    from assistant.ui.chat.main_window import MainWindow

log = logging.getLogger(__name__)


class WindowRunner:
    """The API server's way to the window's engine (see core.engine_runner.Runner)."""

    def __init__(self, window: MainWindow) -> None:
        self.window = window

    def model_id(self) -> str | None:
        return self.window.model_info.get("name")  # {} while (re)loading

    def submit(self, task: Task, stream: ChunkStream) -> None:
        # From the server's thread: a queued signal to the engine thread.
        self.window.engine.run_task(task, stream)


class ApiControl(QObject):
    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
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

        w = self.window
        paths = w.paths
        worker = w.engine.worker
        api = ApiApp(
            WindowRunner(w),
            token=lambda: get_token(paths),
            defaults=lambda: w.settings.generation,
            embedder=lambda: worker.memory.knowledge.embedder,
        )
        server = ApiServer(api, port)
        try:
            get_token(paths)  # made now, so Settings can show it
            server.start()
        except (AssistantError, OSError) as e:
            reason = e.message if isinstance(e, AssistantError) else str(e)
            w.show_banner(
                f"API server: {reason} Pick another port in Settings → API server.", "api"
            )
            return
        self.server = server
        w.hide_banner("api")
        w.statusBar().showMessage(f"API server on {server.base_url}", 8000)

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None
            self.window.hide_banner("api")
