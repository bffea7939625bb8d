"""OpenAI-shaped requests and answers for the API server, and the engine tasks
that serve them. No HTTP here: see api_server."""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from assistant.core.base.errors import AssistantError
from assistant.core.base.types import CancelToken, ChatRequest, Done, Turn
from assistant.core.config.settings import GenerationSettings
from assistant.core.engine.protocol import Engine
from assistant.core.engine.runner import Task

API_KEY = "api"  # the engine keeps the API's KV state apart from the window's chats


class ApiError(AssistantError):
    """An error answer: HTTP status plus OpenAI's error object."""

    def __init__(
        self,
        status: int,
        message: str,
        type_: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.type, self.code, self.param = status, type_, code, param

    def body(self) -> dict[str, Any]:
        return {
            "error": {
                "message": self.message,
                "type": self.type,
                "param": self.param,
                "code": self.code,
            }
        }


class _Loose(BaseModel):
    # Clients send many optional OpenAI fields (user, presence_penalty, …): accepted,
    # and only those that would change the answer's meaning are refused below.
    model_config = ConfigDict(extra="allow")


class Message(_Loose):
    role: Literal["system", "developer", "user", "assistant"]
    content: str | list[dict[str, Any]] | None = None

    def text(self) -> str:
        if self.content is None or isinstance(self.content, str):
            return self.content or ""
        parts = []
        for part in self.content:
            if part.get("type") != "text" or not isinstance(part.get("text"), str):
                raise ApiError(
                    400, "Only text content is supported.", param="messages", code="unsupported"
                )
            parts.append(part["text"])
        return "".join(parts)


class ChatCompletionRequest(_Loose):
    model: str
    messages: list[Message] = Field(min_length=1)
    stream: bool = False
    stream_options: dict[str, Any] | None = None
    max_tokens: int | None = Field(None, ge=1)
    max_completion_tokens: int | None = Field(None, ge=1)
    temperature: float | None = Field(None, ge=0.0, le=2.0)
    top_p: float | None = Field(None, gt=0.0, le=1.0)
    stop: list[str] = Field(default_factory=list)  # a string or up to 4
    seed: int | None = None
    n: int = Field(1, ge=1)

    @field_validator("stop", mode="before")
    @classmethod
    def _stops(cls, v: Any) -> Any:
        stops = [v] if isinstance(v, str) else v if isinstance(v, list) else [] if v is None else v
        if not isinstance(stops, list):
            return stops  # the type check says what is wrong
        if len(stops) > 4:
            raise ValueError("at most 4 stop sequences")
        return [s for s in stops if s != ""]

    def check_supported(self) -> None:
        extra = self.model_extra or {}
        for name in ("tools", "functions"):
            if extra.get(name):
                raise ApiError(400, f"'{name}' is not supported by this server.", param=name)
        if self.n != 1:
            raise ApiError(400, "Only n=1 is supported.", param="n")
        if extra.get("logprobs"):
            raise ApiError(400, "'logprobs' is not supported by this server.", param="logprobs")
        fmt = extra.get("response_format")
        if isinstance(fmt, dict) and fmt.get("type", "text") != "text":
            raise ApiError(
                400,
                f"response_format '{fmt.get('type')}' is not supported; only 'text'.",
                param="response_format",
            )
        for i, m in enumerate(self.messages):
            if m.role != "assistant" and not m.text().strip():
                raise ApiError(400, f"messages[{i}] has no content.", param=f"messages.{i}")

    @property
    def include_usage(self) -> bool:
        return bool((self.stream_options or {}).get("include_usage"))


class EmbeddingsRequest(_Loose):
    model: str
    input: str | list[str] | list[int] | list[list[int]]
    encoding_format: Literal["float", "base64"] = "float"

    def texts(self) -> list[str]:
        items = [self.input] if isinstance(self.input, str) else list(self.input)
        if not items:
            raise ApiError(400, "'input' is empty.", param="input")
        if not all(isinstance(t, str) for t in items):
            raise ApiError(400, "Token arrays are not supported; send text.", param="input")
        if len(items) > 2048:
            raise ApiError(400, "At most 2048 inputs per request.", param="input")
        return items  # type: ignore[return-value]


MAX_DEPTH = 64  # a real request is nested 4-6 levels deep


def parse_body(body: bytes) -> Any:
    """The JSON of a request body, or a 400 saying what is wrong with it.

    Depth and text are checked here, so that nothing later (validation, the
    tokenizer) meets a value it cannot handle: a body nested thousands of
    levels deep, or a lone UTF-16 surrogate ("\\ud800") that UTF-8 cannot encode.
    """
    if _nesting(body) > MAX_DEPTH:
        raise ApiError(400, f"The request body is nested too deeply (over {MAX_DEPTH} levels).")
    try:
        data = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ApiError(400, f"The request body is not valid JSON: {e}.") from e
    except RecursionError as e:
        raise ApiError(
            400, f"The request body is nested too deeply (over {MAX_DEPTH} levels)."
        ) from e
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise ApiError(400, f"The request body is nested too deeply (over {MAX_DEPTH} levels).")
        if isinstance(value, dict):
            stack.extend((k, depth) for k in value)
            stack.extend((v, depth + 1) for v in value.values())
        elif isinstance(value, list):
            stack.extend((v, depth + 1) for v in value)
        elif isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError as e:
                raise ApiError(
                    400,
                    "The request holds text that is not valid Unicode (a lone surrogate such "
                    f"as \\u{ord(value[e.start]):04x}); send UTF-8 text.",
                ) from e
    return data


_STRINGS = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)


def _nesting(body: bytes) -> int:
    """How deep the brackets outside strings go, before any parsing: json.loads would
    recurse that deep in C, and code that runs meanwhile (a finalizer in a garbage
    collection) meets the recursion limit and fails where no one can catch it."""
    import numpy as np

    brackets = _STRINGS.sub(b"", body).translate(None, delete=_NOT_BRACKETS)
    if not brackets:
        return 0
    b = np.frombuffer(brackets, dtype=np.uint8)
    steps = np.where((b == ord("[")) | (b == ord("{")), 1, -1)
    return int(np.cumsum(steps).max())


_NOT_BRACKETS = bytes(c for c in range(256) if c not in b"[]{}")


def parse(model: type[BaseModel], data: Any) -> Any:
    """Validate a request body; the first problem becomes a 400 naming its field."""
    if not isinstance(data, dict):
        raise ApiError(400, "The request body must be a JSON object.")
    try:
        return model.model_validate(data)
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or None
        msg = str(first["msg"]).removeprefix("Value error, ")
        raise ApiError(400, f"Invalid '{where}': {msg}." if where else msg, param=where) from e


@dataclass(frozen=True)
class Accepted:
    """The request fits and generation starts now (sent before any text)."""

    prompt_tokens: int


def chat_task(req: ChatCompletionRequest, defaults: GenerationSettings) -> Task:
    """The engine-thread work for one chat completion."""
    system = "\n\n".join(m.text() for m in req.messages if m.role in ("system", "developer"))
    turns = [
        Turn("user" if m.role == "user" else "assistant", m.text())
        for m in req.messages
        if m.role in ("user", "assistant")
    ]
    if not turns:
        raise ApiError(400, "'messages' needs at least one user message.", param="messages")
    asked = req.max_completion_tokens or req.max_tokens
    params = defaults.model_copy(
        update={
            "max_tokens": asked or defaults.max_tokens,
            "stop": [*defaults.stop, *req.stop],
            **{
                k: getattr(req, k)
                for k in ("temperature", "top_p", "seed")
                if getattr(req, k) is not None
            },
        }
    )
    request = ChatRequest(turns=turns, system=system or None, key=API_KEY)

    def task(engine: Engine, cancel: CancelToken) -> Iterator[object]:
        nonlocal params
        prompt = engine.prompt_tokens(request)
        if prompt is not None:  # a local model: refuse what does not fit
            room = engine.n_ctx - prompt
            if room < 1 or (asked is not None and asked > room):
                want = f" plus {asked} to generate" if asked else ""
                raise ApiError(
                    400,
                    f"This model's context window is {engine.n_ctx} tokens; the messages "
                    f"take {prompt}{want}. Shorten them or ask for fewer tokens.",
                    code="context_length_exceeded",
                    param="messages",
                )
            params = params.model_copy(update={"max_tokens": min(params.max_tokens, room)})
        yield Accepted(prompt or 0)
        yield from engine.stream(request, params, cancel)

    return task


# -- answers ---------------------------------------------------------------------


def new_id() -> str:
    return "chatcmpl-" + uuid.uuid4().hex[:24]


def usage(done: Done) -> dict[str, int]:
    p, c = done.stats.prompt_tokens, done.stats.generated_tokens
    return {"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c}


def finish_reason(done: Done) -> str:
    return "length" if done.finish_reason == "length" else "stop"


def completion(cid: str, model: str, done: Done) -> dict[str, Any]:
    return {
        "id": cid,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": done.text},
                "finish_reason": finish_reason(done),
                "logprobs": None,
            }
        ],
        "usage": usage(done),
    }


def chunk(
    cid: str, model: str, delta: dict[str, Any], finish: str | None = None, **extra: Any
) -> dict[str, Any]:
    choices = [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}]
    return {
        "id": cid,
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": [] if extra.get("usage") else choices,
        **extra,
    }
