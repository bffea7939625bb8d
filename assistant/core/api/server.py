"""A local OpenAI-compatible API: /v1/models, /v1/chat/completions (streamed or
not) and /v1/embeddings, on 127.0.0.1 only, behind a bearer token.

Every chat request becomes a task for the one engine (see engine_runner), so
requests queue and never interleave inside the model; a client that goes away
cancels its generation between two tokens.
"""

from __future__ import annotations

import asyncio
import base64
import hmac
import json
import logging
import socket
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from assistant.core.api import chat as api_chat
from assistant.core.api.chat import ApiError, ChatCompletionRequest, EmbeddingsRequest
from assistant.core.base.errors import AssistantError, ContextOverflowError, ModelError
from assistant.core.base.types import CancelToken, Done, TextChunk
from assistant.core.config.settings import GenerationSettings
from assistant.core.engine.protocol import Engine
from assistant.core.engine.runner import ChunkStream, Runner

log = logging.getLogger(__name__)

# A streamed answer goes out at most this often: tokens that come faster are sent
# together (imperceptible to a reader, and far fewer wake-ups on busy cores).
PACE_S = 0.03
MAX_BODY = 8 * 2**20  # bytes; a full 1M-token context is about 4 MB of text
LOCAL_HOSTS = {"127.0.0.1", "localhost", "[::1]"}


class ApiApp:
    """The routes, given who owns the engine and where settings come from."""

    def __init__(
        self,
        runner: Runner,
        token: Callable[[], str],
        defaults: Callable[[], GenerationSettings],
        embedder: Callable[[], Any] | None = None,
    ) -> None:
        self.runner, self.token, self.defaults, self.embedder = runner, token, defaults, embedder
        self.active: set[Any] = set()  # cancel flags of requests waiting or in progress
        self.stopping = False
        self.max_pending = 64  # beyond this, 429: a runaway script must not queue forever
        # (request id, Done) of the latest answers, as the engine ended them: a record of
        # what each request cost, and of answers cut short by a client that left.
        self.finished: deque[tuple[str, Done]] = deque(maxlen=100)
        self._embed_lock = asyncio.Lock()
        self.app = Starlette(
            routes=[
                Route("/v1/models", self.models, methods=["GET"]),
                Route("/v1/models/{model_id:path}", self.model, methods=["GET"]),
                Route("/v1/chat/completions", self.chat, methods=["POST"]),
                Route("/v1/embeddings", self.embeddings, methods=["POST"]),
            ],
            exception_handlers={
                ApiError: _api_error,
                HTTPException: _http_error,
                Exception: _unexpected,
            },
        )

    # -- guards ------------------------------------------------------------------

    def _guard(self, request: Request) -> None:
        host = request.headers.get("host", "").rsplit(":", 1)[0].lower()
        if host not in LOCAL_HOSTS:  # a web page reaching 127.0.0.1 by DNS rebinding
            raise ApiError(400, f"Host '{host}' is not served; use 127.0.0.1.")
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            given.strip().encode(), self.token().encode()
        ):
            raise ApiError(
                401,
                "Missing or wrong API key. Send 'Authorization: Bearer <token>'; the token "
                "is shown by `assistant serve` and in Settings.",
                code="invalid_api_key",
            )

    async def _json(self, request: Request) -> Any:
        length = request.headers.get("content-length", "")
        if length.isdigit() and int(length) > MAX_BODY:
            raise _too_large()
        body = bytearray()
        async for part in request.stream():
            body += part
            if len(body) > MAX_BODY:
                raise _too_large()
        return api_chat.parse_body(bytes(body))

    def _chat_model(self, asked: str) -> str:
        model = self.runner.model_id()
        if model is None:
            raise ApiError(503, "The model is still loading; try again shortly.", "server_error")
        if asked != model:
            raise ApiError(
                404,
                f"The model '{asked}' does not exist here; this server has '{model}' "
                "(see /v1/models).",
                code="model_not_found",
                param="model",
            )
        return model

    # -- routes -----------------------------------------------------------------

    def _model_ids(self) -> list[str]:
        emb = self.embedder() if self.embedder else None
        ids = [self.runner.model_id(), emb.name if emb is not None else None]
        return [i for i in ids if i]

    async def models(self, request: Request) -> Response:
        self._guard(request)
        data = [_model_object(i) for i in self._model_ids()]
        return JSONResponse({"object": "list", "data": data})

    async def model(self, request: Request) -> Response:
        self._guard(request)
        asked = request.path_params["model_id"]
        if asked not in self._model_ids():
            raise ApiError(
                404,
                f"The model '{asked}' does not exist here (see /v1/models).",
                code="model_not_found",
                param="model",
            )
        return JSONResponse(_model_object(asked))

    async def chat(self, request: Request) -> Response:
        self._guard(request)
        req: ChatCompletionRequest = api_chat.parse(
            ChatCompletionRequest, await self._json(request)
        )
        req.check_supported()
        model = self._chat_model(req.model)
        if len(self.active) >= self.max_pending:
            raise ApiError(
                429,
                f"{len(self.active)} requests are already waiting for the model; "
                "try again when some have finished.",
                "rate_limit_error",
                code="too_many_pending",
            )
        task = api_chat.chat_task(req, self.defaults())
        cid = api_chat.new_id()

        def recorded(engine: Engine, cancel: CancelToken) -> Iterator[object]:  # engine thread
            for item in task(engine, cancel):
                if isinstance(item, Done):
                    self.finished.append((cid, item))
                yield item

        stream = ChunkStream(asyncio.get_running_loop())
        watcher = asyncio.create_task(_watch_disconnect(request, stream.cancel))
        self.active.add(stream.cancel)

        def finish() -> None:
            stream.cancel.cancel()  # a no-op once done; stops the engine if the client left
            watcher.cancel()
            self.active.discard(stream.cancel)

        self.runner.submit(recorded, stream)
        try:
            first = await stream.next()  # Accepted once it fits, else the error
        except StopAsyncIteration:  # the client left while the request waited
            finish()
            return Response(status_code=499)
        except BaseException:
            finish()
            raise
        assert isinstance(first, api_chat.Accepted)
        if req.stream:
            body = self._sse(cid, model, req, stream, finish)
            return StreamingResponse(body, media_type="text/event-stream")
        try:
            done = None
            async for item in stream:
                if isinstance(item, Done):
                    done = item
            if done is None or done.finish_reason == "cancelled":
                return Response(status_code=499)
            return JSONResponse(api_chat.completion(cid, model, done))
        finally:
            finish()

    async def _sse(
        self,
        cid: str,
        model: str,
        req: ChatCompletionRequest,
        stream: ChunkStream,
        finish: Callable[[], None],
    ) -> AsyncIterator[str]:
        try:
            yield _event(api_chat.chunk(cid, model, {"role": "assistant", "content": ""}))
            while items := await stream.batch():
                # Tokens that arrived together go out as one delta: fewer wake-ups and
                # writes here and less parsing in the client, on cores the model needs.
                text = "".join(i.text for i in items if isinstance(i, TextChunk))
                if text:
                    yield _event(api_chat.chunk(cid, model, {"content": text}))
                done = next((i for i in items if isinstance(i, Done)), None)
                if done is None:
                    await asyncio.sleep(PACE_S)  # let a few tokens gather
                    continue
                if done.finish_reason == "cancelled":
                    if self.stopping:  # the client is still there: say why it ends
                        err = ApiError(503, "The server is shutting down.", "server_error")
                        yield _event(err.body())
                    return
                yield _event(api_chat.chunk(cid, model, {}, api_chat.finish_reason(done)))
                if req.include_usage:
                    yield _event(api_chat.chunk(cid, model, {}, usage=api_chat.usage(done)))
            yield "data: [DONE]\n\n"
        except AssistantError as e:  # after the headers: OpenAI's in-stream error event
            yield _event(_as_api_error(e).body())
        finally:
            finish()

    async def embeddings(self, request: Request) -> Response:
        self._guard(request)
        req: EmbeddingsRequest = api_chat.parse(EmbeddingsRequest, await self._json(request))
        emb = self.embedder() if self.embedder else None
        if emb is None:
            raise ApiError(503, "No embedding model is available.", "server_error")
        if req.model != emb.name:
            raise ApiError(
                404,
                f"The model '{req.model}' does not exist here; embeddings use '{emb.name}'.",
                code="model_not_found",
                param="model",
            )
        texts = req.texts()
        async with self._embed_lock:  # one batch at a time: the CPU is shared with the chat
            vecs, tokens = await asyncio.to_thread(_embed, emb, texts)
        data = [
            {
                "object": "embedding",
                "index": i,
                "embedding": base64.b64encode(v.tobytes()).decode()
                if req.encoding_format == "base64"
                else v.tolist(),
            }
            for i, v in enumerate(vecs)
        ]
        return JSONResponse(
            {
                "object": "list",
                "data": data,
                "model": emb.name,
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            }
        )


def _model_object(model_id: str) -> dict[str, Any]:
    return {"id": model_id, "object": "model", "created": 0, "owned_by": "local"}


def _embed(emb: Any, texts: list[str]) -> tuple[Any, int]:
    vecs = emb.embed(texts)
    try:
        tokens = sum(len(ids) for ids in emb.load().tokenizer(texts)["input_ids"])
    except Exception:  # a usage count is not worth failing the request for
        tokens = sum(len(t.split()) for t in texts)
    return vecs, tokens


async def _watch_disconnect(request: Request, cancel: Any) -> None:
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            cancel.cancel()
            return


def _event(data: dict[str, Any]) -> str:
    return f"data: {json.dumps(data, ensure_ascii=False)}\n\n"


def _too_large() -> ApiError:
    return ApiError(413, f"The request body is over {MAX_BODY // 2**20} MB.", code="too_large")


def _as_api_error(e: AssistantError) -> ApiError:
    if isinstance(e, ApiError):
        return e
    if isinstance(e, ContextOverflowError):
        return ApiError(400, str(e), code="context_length_exceeded", param="messages")
    if isinstance(e, ModelError):
        return ApiError(503, str(e), "server_error")
    return ApiError(500, str(e), "server_error")


async def _api_error(_request: Request, e: Exception) -> Response:
    err = _as_api_error(e) if isinstance(e, AssistantError) else ApiError(500, str(e))
    return JSONResponse(err.body(), status_code=err.status)


async def _http_error(_request: Request, e: Exception) -> Response:
    assert isinstance(e, HTTPException)
    msg = (
        f"Not found: {_request.url.path}. This server has /v1/models, /v1/chat/completions "
        "and /v1/embeddings."
        if e.status_code == 404
        else str(e.detail)
    )
    return JSONResponse(ApiError(e.status_code, msg).body(), status_code=e.status_code)


async def _unexpected(_request: Request, e: Exception) -> Response:
    if isinstance(e, AssistantError):
        return await _api_error(_request, e)
    log.exception("API request failed")
    err = ApiError(500, f"Internal error: {type(e).__name__}: {e}.", "server_error")
    return JSONResponse(err.body(), status_code=500)


class ApiServer:
    """The app served by uvicorn on its own thread, on 127.0.0.1 only."""

    def __init__(self, api: ApiApp, port: int) -> None:
        self.api = api
        self.port = port
        self._server: Any = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self, timeout: float = 15.0) -> None:
        import uvicorn

        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", self.port))  # never another interface
        except OSError as e:
            sock.close()
            raise AssistantError(
                f"Cannot serve the API on 127.0.0.1:{self.port}: {e.strerror or e}.",
                "Another program (or another assistant) uses that port: pick another "
                "with --port or api.port.",
            ) from e
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.api.app,
            log_config=None,  # keep the app's logging as it is
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=3,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name="api-server", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise AssistantError("The API server did not start.", "See the log for why.")
            time.sleep(0.02)
        log.info("API server on %s", self.base_url)

    def stop(self, timeout: float = 10.0) -> None:
        self.api.stopping = True
        for cancel in list(self.api.active):
            cancel.cancel()
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)
        self._server = self._thread = None
