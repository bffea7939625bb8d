"""Generation speed on a busy computer: the automatic thread count against fixed ones.

    python bench/chat.py --busy N [--rounds N] [--tokens N]     (or python bench/busy.py)

One run, two phases: the machine idle, then with N busy processes beside it (each a
Python loop, as a browser tab or a compiler would be). In each phase, rounds alternate
between raw llama-cpp-python with every fixed thread count from 1 to the cores, our
engine with the same fixed counts, and our engine with the automatic count (model.n_threads
empty: assistant/core/base/cpu_threads.py). Greedy decoding, the same prompt, medians.

Goals (First-contact issue): busy, automatic ÷ the best fixed count ≥ 0.9; idle,
automatic ÷ all cores ≥ 0.97.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from assistant.core.base.types import ChatRequest, Done, Turn
from assistant.core.config.settings import GenerationSettings, ModelSettings
from assistant.core.engine.llama import ChatEngine, default_threads
from assistant.core.engine.llama_runtime import load_llama
from assistant.core.engine.model_path import resolve_model_path

STORY = "Write a long, detailed story about a lighthouse keeper and a storm."
PROMPT = f"<|im_start|>user\n{STORY}<|im_end|>\n<|im_start|>assistant\n"


def raw_tps(llm, tokens: int) -> float:
    llm.reset()
    stamps = []
    for _tok in llm.generate(llm.tokenize(PROMPT.encode(), special=True), temp=0.0):
        stamps.append(time.perf_counter())
        if len(stamps) >= tokens:
            break
    return (len(stamps) - 1) / (stamps[-1] - stamps[0])


def ours_tps(engine: ChatEngine, tokens: int) -> float:
    params = GenerationSettings(max_tokens=tokens, temperature=0.0, seed=1)
    done = [c for c in engine.stream(ChatRequest([Turn("user", STORY)]), params)][-1]
    assert isinstance(done, Done)
    return done.stats.tokens_per_s


def phase(configs: dict, rounds: int, tokens: int) -> dict[str, float]:
    speeds: dict[str, list[float]] = {name: [] for name in configs}
    for _ in range(rounds):
        for name, measure in configs.items():
            speeds[name].append(measure(tokens))
    return {name: statistics.median(v) for name, v in speeds.items()}


def run(model: str | None, busy: int, rounds: int, tokens: int) -> dict:
    os.environ["ASSISTANT_HOME"] = tempfile.mkdtemp(prefix="assistant-bench-")
    path = resolve_model_path(model)
    cores = default_threads()
    counts = range(1, cores + 1)
    auto = ChatEngine(ModelSettings(n_ctx=2048), path)
    fixed = {n: ChatEngine(ModelSettings(n_ctx=2048, n_threads=n), path) for n in counts}
    raws = {n: load_llama(auto.info, 2048, n, 512, 0) for n in counts}
    configs = {f"raw {n}": (lambda t, n=n: raw_tps(raws[n], t)) for n in counts}
    configs |= {f"ours {n}": (lambda t, n=n: ours_tps(fixed[n], t)) for n in counts}
    configs["ours automatic"] = lambda t: ours_tps(auto, t)
    print(f"model {auto.name}, {cores} cores, {tokens} tokens, {rounds} rounds per phase")

    results = {}
    for load in (0, busy):
        hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(load)]
        try:
            time.sleep(1.0 if load else 0.0)
            phase(configs, 1, 20)  # warm up (and let the governor see the load)
            results[load] = phase(configs, rounds, tokens)
        finally:
            for h in hogs:
                h.kill()
                h.wait()
        cells = "  ".join(f"{name} {v:6.1f}" for name, v in results[load].items())
        print(f"  {load} busy: {cells}  (tokens/s)")

    idle, loaded = results[0], results[busy]
    best_raw = max(loaded[f"raw {n}"] for n in counts)
    best_ours = max(loaded[f"ours {n}"] for n in counts)
    summary = {
        "cores": cores,
        "busy_processes": busy,
        "idle": idle,
        "busy": loaded,
        "busy_auto_vs_best_fixed_ours": round(loaded["ours automatic"] / best_ours, 3),
        "busy_auto_vs_best_fixed_raw": round(loaded["ours automatic"] / best_raw, 3),
        "busy_all_cores_vs_best_fixed_raw": round(loaded[f"raw {cores}"] / best_raw, 3),
        "idle_auto_vs_all_cores_ours": round(idle["ours automatic"] / idle[f"ours {cores}"], 3),
        "idle_auto_vs_all_cores_raw": round(idle["ours automatic"] / idle[f"raw {cores}"], 3),
    }
    print(
        f"busy ({busy}): automatic ÷ best fixed: {summary['busy_auto_vs_best_fixed_ours']:.3f} "
        f"(ours), {summary['busy_auto_vs_best_fixed_raw']:.3f} (raw)  (goal ≥ 0.9); "
        f"all {cores} threads ÷ best fixed (raw): {summary['busy_all_cores_vs_best_fixed_raw']:.3f}"
    )
    print(
        f"idle: automatic ÷ all {cores} threads: {summary['idle_auto_vs_all_cores_ours']:.3f} "
        f"(ours), {summary['idle_auto_vs_all_cores_raw']:.3f} (raw)  (goal ≥ 0.97)"
    )
    print(json.dumps(summary))
    return summary


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", help="GGUF file (default: the starter model)")
    ap.add_argument("--busy", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--tokens", type=int, default=200)
    a = ap.parse_args()
    run(a.model, a.busy, a.rounds, a.tokens)
