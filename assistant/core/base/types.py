"""The one streaming interface's types: what goes into ``stream`` and what comes out."""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Role = Literal["system", "user", "assistant"]


@dataclass(frozen=True)
class Turn:
    role: Role
    content: str
    id: int | None = None  # history message id, when it has one


@dataclass
class ChatRequest:
    """One conversation as the engine sees it.

    ``key`` names the conversation for the engine's per-conversation KV state
    cache; ``context`` is per-turn material (retrieved memories, document
    snippets) that goes after the history so the cached prefix stays valid.
    """

    turns: list[Turn]
    system: str | None = None
    key: str | None = None
    context: str | None = None


class CancelToken:
    """Set from any thread; the engine checks it between tokens."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()


@dataclass
class GenerationStats:
    prompt_tokens: int = 0
    cached_tokens: int = 0  # prompt tokens reused from the KV cache, not evaluated
    generated_tokens: int = 0
    ttft_s: float = 0.0  # request start to first token
    total_s: float = 0.0
    tokens_per_s: float = 0.0  # generation only: first token to last
    model: str = ""
    dropped_messages: int = 0

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for k in ("ttft_s", "total_s", "tokens_per_s"):
            d[k] = round(d[k], 4)
        return d


FinishReason = Literal["stop", "length", "cancelled"]


@dataclass(frozen=True)
class TextChunk:
    text: str


@dataclass(frozen=True)
class ContextNotice:
    """Oldest turns were left out to fit the context window (never the system prompt)."""

    dropped_ids: tuple[int | None, ...]
    kept_tokens: int
    n_ctx: int

    @property
    def message(self) -> str:
        n = len(self.dropped_ids)
        return (
            f"{n} earlier message{'s' if n != 1 else ''} left out to fit the "
            f"{self.n_ctx}-token context window."
        )


@dataclass(frozen=True)
class PromptReport:
    """What went into the model's context for one answer, in tokens per part."""

    n_ctx: int
    total_tokens: int
    system_tokens: int
    context_tokens: int  # per-turn material: memories, document snippets
    history_tokens: int  # earlier turns that were kept
    message_tokens: int  # the newest message
    template_tokens: int  # role markers and other template text
    kept_messages: int
    dropped_ids: tuple[int | None, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Done:
    text: str
    finish_reason: FinishReason
    stats: GenerationStats = field(default_factory=GenerationStats)
    prompt: PromptReport | None = None
    stopped_at: str | None = None  # the stop string that ended the answer, if one did


@dataclass(frozen=True)
class RecallNotice:
    """What was recalled for this answer (memories, passages, past snippets), best first.

    ``items`` are ``recall.RecallItem.to_dict()`` dicts, so any consumer can show
    or serialise them without importing the recall module.
    """

    items: tuple[dict[str, Any], ...]


@dataclass(frozen=True)
class MemoryNotice:
    """Memories saved (``saved``) or proposed for the user to accept (``proposed``);
    ``problem``: recall was unavailable for this answer, and why (one line)."""

    saved: tuple[tuple[int, str], ...] = ()
    proposed: tuple[tuple[int, str], ...] = ()
    problem: str | None = None


Chunk = TextChunk | ContextNotice | RecallNotice | MemoryNotice | Done


@dataclass(frozen=True)
class ModelInfo:
    """What a loaded model says of itself: the status bar, Settings, the API and the
    CLI read it (a local GGUF, or a server's model when ``remote``)."""

    name: str
    path: str  # the GGUF file, or the server's URL
    architecture: str  # "remote" for a server
    quantization: str
    n_ctx: int
    n_ctx_train: int | None
    threads: int  # 0 for a server
    gpu_layers: int
    offload_note: str  # why fewer layers than asked went to the GPU, or ""
    chat_template: str
    recommended: dict[str, float] = field(default_factory=dict)  # the authors' sampling

    @property
    def remote(self) -> bool:
        return self.architecture == "remote"
