"""`assistant serve [--port N]`: the local OpenAI-compatible API without the window."""

from __future__ import annotations

import argparse
import signal
import sys
import threading


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "serve",
        help="serve an OpenAI-compatible API on 127.0.0.1 (token required)",
        description="Serves /v1/models, /v1/chat/completions and /v1/embeddings on "
        "127.0.0.1 until Ctrl+C. Clients send the printed token as their API key.",
    )
    p.add_argument("--port", type=int, help="port on 127.0.0.1 (default: api.port, 8765)")
    p.add_argument("--new-token", action="store_true", help="replace the token first")
    p.set_defaults(func=cmd_serve)


def cmd_serve(args: argparse.Namespace) -> int:
    from assistant.cli import common
    from assistant.core.api.server import ApiApp, ApiServer
    from assistant.core.api.token import ENV, env_token, get_token, regenerate_token
    from assistant.core.base.errors import SettingsError
    from assistant.core.base.paths import get_paths
    from assistant.core.engine.runner import EngineRunner, ServedEngine, result_or_none
    from assistant.core.memory.embedder import Embedder

    settings = common.settings()
    paths = get_paths().ensure()
    port = args.port if args.port is not None else settings.api.port
    if not 1024 <= port <= 65535:
        raise SettingsError(f"--port {port} is not allowed.", "Give a number from 1024 to 65535.")
    if args.new_token:
        regenerate_token(paths)
        if env_token():
            print(
                f"A new key was saved, but {ENV} is set and is the key in force.", file=sys.stderr
            )
    token = get_token(paths)
    # The engine loads on its own thread, which then runs every request (until it is
    # loaded, requests get 503).
    runner = EngineRunner(start=False)
    opened = runner.call(lambda: common.open_engine(settings))
    embedder = Embedder(settings.memory.embedding_model, paths.cache_dir)
    api = ApiApp(
        ServedEngine(runner, lambda: result_or_none(opened)),
        token=lambda: get_token(paths),
        defaults=lambda: settings.generation,
        embedder=lambda: embedder,
    )
    server = ApiServer(api, port)
    server.start()  # first: a taken port is said at once, not after the model loads
    try:
        print("Loading the model…", file=sys.stderr, flush=True)
        runner.start()
        engine = opened.result()
    except BaseException:
        server.stop()
        runner.close()
        raise
    # Loaded beside the chat model so the first /v1/embeddings does not wait for torch.
    threading.Thread(target=_preload, args=(embedder,), name="embedder", daemon=True).start()
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    source = f" (from {ENV})" if token == env_token() else ""
    print(f"OpenAI-compatible API: {server.base_url}")
    print(f"API key{source}: {token}")
    print(f"Models: {engine.name} (chat), {embedder.name} (embeddings)")
    print("Ctrl+C stops it.", flush=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        print("Stopping…", file=sys.stderr, flush=True)
        server.stop()
        runner.call(engine.close)  # on the thread that owns it
        runner.close()
    return 0


def _preload(embedder: object) -> None:
    import logging

    try:
        embedder.load()  # type: ignore[attr-defined]
    except Exception as e:  # /v1/embeddings reports it when asked
        logging.getLogger(__name__).warning("embedding model not loaded: %s", e)
