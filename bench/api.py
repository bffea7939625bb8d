"""API server benchmark: tokens/s through the local OpenAI-compatible API (the
official `openai` client, streaming) ÷ tokens/s from the same engine called directly
(on its own thread), same model, threads and seeds, in one run.

    python bench/api.py [--model PATH] [--threads N] [--rounds N] [--tokens N]

Both sides are timed the same way, by the consumer: from the first text chunk it
receives to the last, over the tokens the engine reports (goal ≥ 0.95). The API
client runs in its own process, as other programs do.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import statistics
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import openai

from assistant.core.api.server import ApiApp, ApiServer
from assistant.core.base.types import ChatRequest, Done, TextChunk, Turn
from assistant.core.config.settings import DEFAULT_SYSTEM_PROMPT, GenerationSettings, ModelSettings
from assistant.core.engine.llama import ChatEngine, default_threads
from assistant.core.engine.runner import ChunkStream, EngineRunner, ServedEngine

STORY = "Write a long, detailed story about a lighthouse keeper and a storm."
TOKEN = "sk-bench"


def direct(runner: ServedEngine, params: GenerationSettings) -> tuple[float, int]:
    """The engine's own generator, consumed on its own thread: no hand-over at all."""
    got: list[tuple[float, int]] = []

    def task(engine: ChatEngine, _cancel: object) -> Iterator[object]:
        request = ChatRequest([Turn("user", STORY)], system=DEFAULT_SYSTEM_PROMPT, key="api")
        stamps, done = [], None
        for c in engine.stream(request, params):
            if isinstance(c, TextChunk):
                stamps.append(time.perf_counter())
            elif isinstance(c, Done):
                done = c
        assert done is not None
        got.append((rate(stamps, done.stats.generated_tokens), done.stats.generated_tokens))
        yield from ()

    async def go() -> None:
        stream = ChunkStream(asyncio.get_running_loop())
        runner.submit(task, stream)
        async for _ in stream:
            pass

    asyncio.run(go())
    return got[0]


def through_runner(runner: ServedEngine, params: GenerationSettings) -> tuple[float, int]:
    """The engine thread plus the asyncio hand-over, without HTTP (to split the cost)."""

    async def go() -> tuple[float, int]:
        stream = ChunkStream(asyncio.get_running_loop())
        request = ChatRequest([Turn("user", STORY)], system=DEFAULT_SYSTEM_PROMPT, key="api")
        runner.submit(lambda eng, cancel: eng.stream(request, params, cancel), stream)
        stamps, n = [], 0
        async for c in stream:
            if isinstance(c, TextChunk):
                stamps.append(time.perf_counter())
            elif isinstance(c, Done):
                n = c.stats.generated_tokens
        return rate(stamps, n), n

    return asyncio.run(go())


def via_api(url: str, model: str, params: GenerationSettings) -> tuple[float, int]:
    """In a separate process, as a real client is: its parsing does not share our GIL."""
    client = openai.OpenAI(base_url=url, api_key=TOKEN, max_retries=0)
    stamps, n = [], 0
    for chunk in client.chat.completions.create(
        model=model,
        messages=[
            {"role": "system", "content": DEFAULT_SYSTEM_PROMPT},
            {"role": "user", "content": STORY},
        ],
        stream=True,
        stream_options={"include_usage": True},
        max_tokens=params.max_tokens,
        temperature=params.temperature,
        top_p=params.top_p,
        seed=params.seed,
    ):
        if chunk.choices and chunk.choices[0].delta.content:
            stamps.append(time.perf_counter())
        if chunk.usage:
            n = chunk.usage.completion_tokens
    return rate(stamps, n), n


def rate(stamps: list[float], tokens: int) -> float:
    if len(stamps) < 2 or stamps[-1] <= stamps[0]:
        return 0.0
    return (tokens - 1) / (stamps[-1] - stamps[0])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--model", help="GGUF file (default: the starter model)")
    ap.add_argument("--threads", type=int, default=default_threads())
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--tokens", type=int, default=200)
    args = ap.parse_args()

    # Loaded and run on the runner's thread, as `assistant serve` does.
    thread = EngineRunner()
    settings = ModelSettings(n_ctx=4096, n_threads=args.threads)
    engine = thread.call(lambda: ChatEngine(settings, args.model)).result()
    runner = ServedEngine(thread, lambda: engine)
    server = ApiServer(ApiApp(runner, token=lambda: TOKEN, defaults=GenerationSettings), 0)
    server.start()
    client = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
    client.submit(time.sleep, 0).result()  # the client process is up before timing
    print(
        f"model {engine.name}, {args.threads} threads, {args.rounds} rounds × {args.tokens} tokens"
    )
    results: dict[str, list[float]] = {"direct": [], "runner": [], "api": []}
    try:
        for r in range(args.rounds):
            params = GenerationSettings(
                max_tokens=args.tokens, temperature=0.7, top_p=0.95, seed=100 + r
            )
            # Interleaved, in a rotating order, so drift on a shared machine hits all three.
            order = ["direct", "runner", "api"]
            order = order[r % 3 :] + order[: r % 3]
            for name in order:
                if name == "direct":
                    tps, n = direct(runner, params)
                elif name == "runner":
                    tps, n = through_runner(runner, params)
                else:
                    tps, n = client.submit(via_api, server.base_url, engine.name, params).result()
                results[name].append(tps)
                print(f"  round {r + 1} {name:>6}: {tps:6.1f} tok/s ({n} tokens)", flush=True)
    finally:
        client.shutdown()
        server.stop()
        thread.call(engine.close)  # on its thread
        thread.close()
    med = {k: statistics.median(v) for k, v in results.items()}
    print(
        f"\nmedian tok/s: direct {med['direct']:.1f}, runner {med['runner']:.1f}, API {med['api']:.1f}"
    )
    print(f"engine thread + hand-over ÷ direct: {med['runner'] / med['direct']:.3f}")
    print(f"API ÷ direct: {med['api'] / med['direct']:.3f} (goal ≥ 0.95)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
