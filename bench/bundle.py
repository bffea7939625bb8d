"""The desktop bundle's llama.cpp against the .venv's, same model, same threads, one run.

    python bench/bundle.py [--bundle dist/assistant] [--rounds N] [--tokens N]

The .venv's llama.cpp is compiled for this CPU (-march=native); the bundle's is the
portable build (GGML_BACKEND_DL, one CPU library per x86-64 generation, the best one
picked at run time). Each is measured in its own process with the same Python bindings
and the app's loader (assistant.core.engine.llama_runtime), alternating, greedy decoding with a
fixed seed. Prints the ratio bundle ÷ .venv of generation tokens/s (goal ≥ 0.95) and of
prompt-processing tokens/s, and which CPU library the bundle's llama.cpp picked.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

STORY = "Write a long, detailed story about a lighthouse keeper and a storm."


def child(lib_dir: str | None, rounds: int, tokens: int, threads: int) -> None:
    """Measure one build; lib_dir replaces the .venv's llama_cpp/lib when given."""
    if lib_dir:
        # The same llama_cpp Python package with the other build's libraries under it.
        import importlib.util

        src = Path(next(iter(importlib.util.find_spec("llama_cpp").submodule_search_locations)))
        pkg = Path(tempfile.mkdtemp(prefix="assistant-bench-llama-")) / "llama_cpp"
        shutil.copytree(src, pkg, ignore=shutil.ignore_patterns("lib", "__pycache__"))
        (pkg / "lib").symlink_to(Path(lib_dir).resolve(), target_is_directory=True)
        sys.path.insert(0, str(pkg.parent))

    from assistant.core.engine import gguf_file
    from assistant.core.engine.llama_runtime import cpu_code, load_llama
    from assistant.core.engine.model_path import resolve_model_path

    info = gguf_file.inspect(resolve_model_path(None))
    llm = load_llama(info, n_ctx=2048, n_threads=threads, n_batch=512, n_gpu_layers=0)
    import llama_cpp

    libllama = llama_cpp.llama_cpp._lib._name
    long_prompt = llm.tokenize((STORY + " ").encode() * 24)[:400]
    gen, prompt = [], []
    for r in range(rounds + 1):  # round 0 warms up
        llm.reset()
        t0 = time.perf_counter()
        llm.eval(long_prompt)
        pp = len(long_prompt) / (time.perf_counter() - t0)
        llm.reset()
        stamps = []
        for chunk in llm.create_completion(
            f"<|im_start|>user\n{STORY}<|im_end|>\n<|im_start|>assistant\n",
            max_tokens=tokens,
            temperature=0.0,
            seed=42,
            stream=True,
        ):
            if chunk["choices"][0]["text"]:
                stamps.append(time.perf_counter())
        if r and len(stamps) > 10:
            gen.append((len(stamps) - 1) / (stamps[-1] - stamps[0]))
            prompt.append(pp)
    print(
        json.dumps(
            {
                "gen": gen,
                "prompt": prompt,
                "libllama": libllama,
                "variant": cpu_code(),
            }
        )
    )


def measure(lib_dir: str | None, args: argparse.Namespace) -> dict:
    cmd = [sys.executable, __file__, "--child", lib_dir or "", "--rounds", str(args.rounds)]
    cmd += ["--tokens", str(args.tokens), "--threads", str(args.threads)]
    env = {**os.environ, "ASSISTANT_HOME": tempfile.mkdtemp(prefix="assistant-bench-")}
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if r.returncode != 0:
        sys.exit(f"benchmark process failed ({r.returncode}):\n{r.stderr[-3000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def main() -> None:
    from assistant.core.engine.llama import default_threads

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bundle", default=str(ROOT / "dist" / "assistant"))
    ap.add_argument("--rounds", type=int, default=5, help="timed answers per process")
    ap.add_argument("--passes", type=int, default=2, help="processes per build, alternating")
    ap.add_argument("--tokens", type=int, default=128)
    ap.add_argument("--threads", type=int, default=default_threads())
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child is not None:
        child(args.child or None, args.rounds, args.tokens, args.threads)
        return

    bundle_lib = Path(args.bundle) / "_internal" / "llama_cpp" / "lib"
    if not list(bundle_lib.glob("libggml-cpu-*.so")):
        sys.exit(f"no portable llama.cpp in {bundle_lib}: run `make package` first")
    runs: dict[str, list[dict]] = {"venv": [], "bundle": []}
    for p in range(args.passes):
        for name, lib in (("venv", None), ("bundle", str(bundle_lib))):
            runs[name].append(measure(lib, args))
            gen = runs[name][-1]["gen"]
            print(f"  pass {p} {name:6s}: " + "  ".join(f"{t:6.1f}" for t in gen) + " tok/s")

    def med(name: str, key: str) -> float:
        return statistics.median(t for run in runs[name] for t in run[key])

    gen_ratio = med("bundle", "gen") / med("venv", "gen")
    pp_ratio = med("bundle", "prompt") / med("venv", "prompt")
    variant = runs["bundle"][-1]["variant"]
    result = {
        "threads": args.threads,
        "tokens": args.tokens,
        "generation_tokens_per_s": {"venv": med("venv", "gen"), "bundle": med("bundle", "gen")},
        "prompt_tokens_per_s": {"venv": med("venv", "prompt"), "bundle": med("bundle", "prompt")},
        "ratio_generation": round(gen_ratio, 3),
        "ratio_prompt": round(pp_ratio, 3),
        "bundle_cpu_library": variant,
    }
    print(f"bundle's CPU library: {variant}")
    print(
        f"generation tokens/s bundle ÷ .venv: {gen_ratio:.3f}  "
        f"({med('bundle', 'gen'):.1f} vs {med('venv', 'gen'):.1f}; goal ≥ 0.95)"
    )
    print(
        f"prompt tokens/s bundle ÷ .venv:     {pp_ratio:.3f}  "
        f"({med('bundle', 'prompt'):.0f} vs {med('venv', 'prompt'):.0f})"
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
