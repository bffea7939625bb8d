"""Chat engine benchmark: ours vs raw llama-cpp-python, same model, same threads, one run.

    python bench/chat.py [--model PATH] [--threads N] [--rounds N]
    python bench/chat.py --busy N [--rounds N]

Prints three ratios (goals from the Foundation issue):
  1. generation tokens/s, our engine ÷ raw `create_chat_completion` (goal ≥ 0.97)
  2. time to first token at turn 20 (~2k tokens of history) ÷ turn 1 (goal ≤ 1.3)
  3. stateless baseline re-evaluating the history ÷ ours, at turn 20 (goal ≥ 5)

With --busy N, generation speed on a busy computer instead (bench/busy.py): the
automatic thread count against every fixed one, idle and beside N busy processes.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from assistant.core.base.types import ChatRequest, Done, Turn
from assistant.core.chat.service import ChatService
from assistant.core.config.settings import (
    DEFAULT_SYSTEM_PROMPT,
    GenerationSettings,
    ModelSettings,
    Settings,
)
from assistant.core.engine.llama import ChatEngine, default_threads
from assistant.core.engine.llama_runtime import load_llama
from assistant.core.engine.model_path import resolve_model_path
from assistant.core.history.store import HistoryStore

STORY = "Write a long, detailed story about a lighthouse keeper and a storm."


def raw_tokens_per_s(raw, params: GenerationSettings) -> tuple[float, int]:
    msgs = [
        {"role": "system", "content": DEFAULT_SYSTEM_PROMPT},
        {"role": "user", "content": STORY},
    ]
    stamps = []
    for chunk in raw.create_chat_completion(
        msgs,
        stream=True,
        max_tokens=params.max_tokens,
        temperature=params.temperature,
        top_p=params.top_p,
        top_k=params.top_k,
        min_p=params.min_p,
        repeat_penalty=params.repeat_penalty,
        seed=params.seed,
    ):
        if chunk["choices"][0]["delta"].get("content"):
            stamps.append(time.perf_counter())
    return (len(stamps) - 1) / (stamps[-1] - stamps[0]), len(stamps)


def ours_tokens_per_s(engine, params: GenerationSettings) -> tuple[float, int]:
    req = ChatRequest([Turn("user", STORY)], system=DEFAULT_SYSTEM_PROMPT)
    done = last(engine.stream(req, params))
    return done.stats.tokens_per_s, done.stats.generated_tokens


def service_tokens_per_s(service, params: GenerationSettings) -> float:
    conv = service.new_conversation()
    done = last(service.send(conv.id, STORY, params=params))
    return done.stats.tokens_per_s


def last(chunks) -> Done:
    """Drain the stream like a real consumer (the engine prefills after Done)."""
    return [c for c in chunks if isinstance(c, Done)][-1]


def run_conversation(service, turns: int, seed: int):
    params = GenerationSettings(max_tokens=100, temperature=0.7, top_p=0.95, seed=seed)
    conv = service.new_conversation()
    ttfts, prompt_tokens = [], []
    for turn in range(1, turns + 1):
        q = f"Reader {seed}, story {turn}: tell me a new short story, about 100 words, about a river town."
        done = last(service.send(conv.id, q, params=params))
        ttfts.append(done.stats.ttft_s)
        prompt_tokens.append(done.stats.prompt_tokens)
    last_user = service.store.thread(conv.id)[-2].id
    return ttfts, prompt_tokens, service.request_for(conv.id, last_user)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", help="GGUF file (default: the starter model)")
    ap.add_argument("--threads", type=int, default=default_threads())
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--tokens", type=int, default=200)
    ap.add_argument("--turns", type=int, default=20)
    ap.add_argument("--conversations", type=int, default=3, help="repeats of the long chat")
    ap.add_argument("--n-gpu-layers", type=int, default=0)
    ap.add_argument("--busy", type=int, help="busy processes beside generation (bench/busy.py)")
    args = ap.parse_args()
    if args.busy is not None:
        import busy

        busy.run(args.model, args.busy, args.rounds, args.tokens)
        return

    home = tempfile.mkdtemp(prefix="assistant-bench-")
    os.environ["ASSISTANT_HOME"] = home
    path = resolve_model_path(args.model)
    ms = ModelSettings(n_ctx=4096, n_threads=args.threads, n_gpu_layers=args.n_gpu_layers)
    engine = ChatEngine(ms, path)
    raw = load_llama(engine.info, 4096, args.threads, 512, args.n_gpu_layers)
    settings = Settings()
    store = HistoryStore(Path(home) / "history.sqlite3")
    service = ChatService(store, engine, settings)
    print(f"model {engine.name} ({engine.info.quantization}), threads {args.threads}")

    # 1. Generation speed, interleaved rounds, same sampling settings and seeds.
    ours, raws, svc = [], [], []
    for r in range(args.rounds):
        params = GenerationSettings(
            max_tokens=args.tokens, temperature=0.8, top_p=0.95, seed=100 + r
        )
        raw_tps, raw_n = raw_tokens_per_s(raw, params)
        our_tps, our_n = ours_tokens_per_s(engine, params)
        svc.append(service_tokens_per_s(service, params))
        raws.append(raw_tps)
        ours.append(our_tps)
        print(
            f"  round {r}: raw {raw_tps:6.1f} tok/s ({raw_n} tok)  ours {our_tps:6.1f} tok/s "
            f"({our_n} tok)  ours+history {svc[-1]:6.1f} tok/s"
        )
    tps_ratio = statistics.median(ours) / statistics.median(raws)
    svc_ratio = statistics.median(svc) / statistics.median(raws)

    # 2./3. Long conversations through the service: TTFT per turn, then a
    # stateless baseline (fresh evaluation of the same prompt) at the last turn.
    # Turn 1 comes after other conversations, as in everyday use: the shared
    # system prompt is already in the KV cache, as it would be for any app.
    runs = [run_conversation(service, args.turns, seed) for seed in range(args.conversations)]
    ttft_first = statistics.median(r[0][0] for r in runs)
    ttft_last = statistics.median(r[0][-1] for r in runs)
    prompt_tokens = runs[-1][1]
    for turn in sorted({0, *range(4, args.turns - 1, 5), args.turns - 1}):
        cells = "  ".join(f"{r[0][turn] * 1000:5.0f}" for r in runs)
        print(f"  turn {turn + 1:2d} ({runs[-1][1][turn]:4d} tok): TTFT ms {cells}")
    req = runs[-1][2]
    msgs = [{"role": "system", "content": req.system}] + [
        {"role": t.role, "content": t.content} for t in req.turns
    ]
    stateless = []
    for _ in range(3):
        raw.reset()
        t0 = time.perf_counter()
        for _chunk in raw.create_chat_completion(msgs, stream=True, max_tokens=1, temperature=0):
            pass
        stateless.append(time.perf_counter() - t0)
    ttfts = [ttft_first, ttft_last]

    # The window reads ahead while the user types (ChatEngine.prefill on a pause);
    # the same 21st turn in each conversation, with that read-ahead first.
    typed = []
    for r in runs:
        conv_id = service.store.get_message(r[2].turns[-1].id).conversation_id
        q = "Reader, story 21: tell me a new short story, about 100 words, about a river town."
        engine.prefill(service.draft_request(conv_id, q))
        params = GenerationSettings(max_tokens=20, temperature=0.7, top_p=0.95, seed=9)
        typed.append(last(service.send(conv_id, q, params=params)).stats.ttft_s)
    ttft_typed = statistics.median(typed)
    ttft_ratio = ttfts[-1] / ttfts[0]
    stateless_ratio = statistics.median(stateless) / ttfts[-1]

    result = {
        "model": engine.name,
        "threads": args.threads,
        "tokens_per_s": {
            "raw": statistics.median(raws),
            "ours": statistics.median(ours),
            "ours_with_history": statistics.median(svc),
        },
        "ratio_tokens_per_s": round(tps_ratio, 3),
        "ratio_tokens_per_s_with_history": round(svc_ratio, 3),
        "history_tokens_at_last_turn": prompt_tokens[-1],
        "ttft_turn1_s": round(ttfts[0], 4),
        "ttft_last_turn_s": round(ttfts[-1], 4),
        "ratio_ttft_last_vs_first": round(ttft_ratio, 3),
        "stateless_ttft_s": round(statistics.median(stateless), 4),
        "ratio_stateless_vs_ours": round(stateless_ratio, 2),
        "ttft_turn21_after_typing_prefill_s": round(ttft_typed, 4),
        "ratio_ttft_turn21_prefilled_vs_first": round(ttft_typed / ttfts[0], 3),
    }
    print(f"tokens/s ours ÷ raw:               {tps_ratio:.3f}  (goal ≥ 0.97)")
    print(f"tokens/s ours+history ÷ raw:       {svc_ratio:.3f}")
    print(
        f"TTFT turn {args.turns} ({prompt_tokens[-1]} tok) ÷ turn 1: "
        f"{ttft_ratio:.2f}  ({ttfts[-1] * 1000:.0f} ms vs {ttfts[0] * 1000:.0f} ms; goal ≤ 1.3)"
    )
    print(
        f"stateless ÷ ours at turn {args.turns}:       {stateless_ratio:.1f}  "
        f"({statistics.median(stateless) * 1000:.0f} ms vs {ttfts[-1] * 1000:.0f} ms; goal ≥ 5)"
    )
    print(
        f"TTFT turn 21 with read-ahead while typing ÷ turn 1: {ttft_typed / ttfts[0]:.2f}  "
        f"({ttft_typed * 1000:.0f} ms)"
    )
    print(json.dumps(result))
    store.close()


if __name__ == "__main__":
    main()
