"""What the views share: built once by the composition root (ui/app.py) and handed to
each part in its constructor, so no view reaches into another for a service."""

from __future__ import annotations

from dataclasses import dataclass

from assistant.core.base.paths import Paths
from assistant.core.history.store import HistoryStore
from assistant.core.memory.service import MemoryService
from assistant.ui.common.message import Messages
from assistant.ui.services.engine_client import EngineClient
from assistant.ui.services.live_settings import LiveSettings
from assistant.ui.services.push_to_talk import PushToTalk


@dataclass(frozen=True)
class AppServices:
    paths: Paths
    store: HistoryStore  # the GUI thread's connection (the engine thread has its own)
    messages: Messages  # anything said to the user: status line and banners
    live: LiveSettings  # the settings in use, saved and reloaded in one place
    engine: EngineClient  # the one chat model, on its own thread
    memory: MemoryService  # memories and documents (its index belongs to the engine thread)
    ptt: PushToTalk  # the one microphone and speech model
