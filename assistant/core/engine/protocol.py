"""What every chat model offers, local (llama.cpp) or a server's: the one streaming interface."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from assistant.core.base.types import CancelToken, ChatRequest, Chunk, ModelInfo
from assistant.core.config.settings import GenerationSettings


class Engine(Protocol):
    """A loaded chat model. It is used only on the thread that loaded it (see runner.py)."""

    name: str
    n_ctx: int

    def stream(
        self,
        request: ChatRequest,
        params: GenerationSettings | None = None,
        cancel: CancelToken | None = None,
    ) -> Iterator[Chunk]:
        """The answer as chunks; ``cancel`` is checked between tokens; ends with ``Done``."""
        ...

    def prefill(
        self,
        request: ChatRequest,
        params: GenerationSettings | None = None,
        cancel: CancelToken | None = None,
    ) -> int:
        """Evaluate a prompt still being typed; the prompt tokens now cached (0: none)."""
        ...

    def prompt_tokens(self, request: ChatRequest) -> int | None:
        """The tokens ``request`` takes as a prompt, or None when only a server can tell."""
        ...

    def describe(self) -> ModelInfo: ...

    def close(self) -> None: ...
