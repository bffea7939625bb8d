"""A remote engine: any OpenAI-compatible server (llama.cpp's llama-server, vLLM,
Ollama, llama_cpp.server) behind the same ``stream(request, params, cancel)`` as
the local ChatEngine, for users who outgrow one machine.

The server applies the chat template and keeps its own cache; we send the
messages and read server-sent events. The context budget uses ~4 characters per
token, as the server's tokenizer is not at hand.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Iterator
from typing import Any

from assistant.core.base.errors import ModelError
from assistant.core.base.types import (
    CancelToken,
    ChatRequest,
    Chunk,
    ContextNotice,
    Done,
    FinishReason,
    GenerationStats,
    ModelInfo,
    TextChunk,
    Turn,
)
from assistant.core.config.settings import GenerationSettings, ModelSettings
from assistant.core.engine.context import choose_cut

log = logging.getLogger(__name__)

CHARS_PER_TOKEN = 4
KEY_ENV = "ASSISTANT_REMOTE_API_KEY"


def _approx_tokens(text: str) -> int:
    return len(text) // CHARS_PER_TOKEN + 4  # + role markers


class RemoteEngine:
    def __init__(self, settings: ModelSettings) -> None:
        import httpx

        assert settings.remote_url
        self.settings = settings
        self.url = settings.remote_url.rstrip("/")
        key = settings.remote_api_key or os.environ.get(KEY_ENV)
        self._headers = {"Authorization": f"Bearer {key}"} if key else {}
        self.n_ctx = settings.n_ctx
        self._client = httpx.Client(timeout=httpx.Timeout(30, read=300), headers=self._headers)
        try:
            r = self._client.get(f"{self.url}/models")
        except httpx.HTTPError as e:
            raise ModelError(
                f"Cannot reach the model server at {self.url} ({type(e).__name__}).",
                "Check that it is running, or clear model.remote_url to use a local model.",
            ) from e
        if r.status_code in (401, 403):
            raise ModelError(
                f"The model server at {self.url} refused the API key (HTTP {r.status_code}).",
                f"Set model.remote_api_key (or {KEY_ENV}).",
            )
        if r.status_code != 200:
            raise ModelError(
                f"{self.url}/models answered HTTP {r.status_code}; is it an OpenAI-compatible "
                "server?",
                "The URL usually ends in /v1.",
            )
        ids = [m.get("id") for m in r.json().get("data", []) if isinstance(m, dict)]
        self.model = settings.remote_model or (ids[0] if ids else "")
        if not self.model:
            raise ModelError(
                f"The server at {self.url} lists no models.", "Set model.remote_model."
            )
        self.name = self.model.rstrip("/").rsplit("/", 1)[-1].removesuffix(".gguf")

    # -- the streaming interface ----------------------------------------------------

    def _messages(self, request: ChatRequest, turns: list[Turn]) -> list[dict[str, str]]:
        msgs = [{"role": "system", "content": request.system}] if request.system else []
        msgs += [{"role": t.role, "content": t.content} for t in turns]
        if request.context and msgs and msgs[-1]["role"] == "user":
            msgs[-1] = {"role": "user", "content": f"{request.context}\n\n{msgs[-1]['content']}"}
        return msgs

    def stream(
        self,
        request: ChatRequest,
        params: GenerationSettings | None = None,
        cancel: CancelToken | None = None,
    ) -> Iterator[Chunk]:
        import httpx

        params = (params or GenerationSettings()).resolved({})
        cancel = cancel or CancelToken()
        t0 = time.perf_counter()
        budget = self.n_ctx - min(params.max_tokens, self.n_ctx // 2)

        def count(cut: int) -> int:
            return sum(
                _approx_tokens(m["content"]) for m in self._messages(request, request.turns[cut:])
            )

        cut, prompt_tokens = choose_cut(request.turns, count, budget)
        if cut:
            yield ContextNotice(tuple(t.id for t in request.turns[:cut]), prompt_tokens, self.n_ctx)
        body: dict[str, Any] = {
            "model": self.model,
            "messages": self._messages(request, request.turns[cut:]),
            "stream": True,
            "max_tokens": params.max_tokens,
            "temperature": params.temperature,
            "top_p": params.top_p,
        }
        if params.stop:
            body["stop"] = params.stop
        if params.seed is not None:
            body["seed"] = params.seed
        stats = GenerationStats(model=self.name, prompt_tokens=prompt_tokens, dropped_messages=cut)
        parts: list[str] = []
        finish: FinishReason = "stop"
        t_first = t_last = 0.0
        try:
            with self._client.stream("POST", f"{self.url}/chat/completions", json=body) as r:
                if r.status_code != 200:
                    r.read()
                    raise ModelError(
                        f"The model server answered HTTP {r.status_code}: {r.text[:200]}",
                        "Check model.remote_model and the server's log.",
                    )
                for line in r.iter_lines():
                    if cancel.cancelled:
                        finish = "cancelled"  # leaving the block closes the connection
                        break
                    if not line.startswith("data:"):
                        continue
                    data = line[5:].strip()
                    if data == "[DONE]":
                        break
                    event = json.loads(data)
                    choice = (event.get("choices") or [{}])[0]
                    piece = (choice.get("delta") or {}).get("content") or ""
                    if piece:
                        t_last = time.perf_counter()
                        t_first = t_first or t_last
                        parts.append(piece)
                        stats.generated_tokens += 1  # one event is about one token
                        yield TextChunk(piece)
                    if choice.get("finish_reason") == "length":
                        finish = "length"
        except httpx.HTTPError as e:
            raise ModelError(
                f"The connection to the model server broke ({type(e).__name__}).",
                "What was shown is kept; try again when the server is back.",
            ) from e
        stats.total_s = time.perf_counter() - t0
        stats.ttft_s = (t_first - t0) if t_first else stats.total_s
        if stats.generated_tokens > 1 and t_last > t_first:
            stats.tokens_per_s = (stats.generated_tokens - 1) / (t_last - t_first)
        yield Done("".join(parts), finish, stats)

    def prefill(
        self,
        request: ChatRequest,
        params: GenerationSettings | None = None,
        cancel: CancelToken | None = None,
    ) -> int:
        return 0  # the server keeps its own cache

    def prompt_tokens(self, request: ChatRequest) -> int | None:
        return None  # only the server knows its tokenizer

    def describe(self) -> ModelInfo:
        return ModelInfo(
            name=self.name,
            path=self.url,
            architecture="remote",
            quantization="",
            n_ctx=self.n_ctx,
            n_ctx_train=None,
            threads=0,
            gpu_layers=0,
            offload_note="",
            chat_template="the server's",
        )

    def close(self) -> None:
        self._client.close()
