"""First answer: does recall hold a fresh `assistant ask` back?

    python bench/first_answer.py [--rounds N]

Fresh processes, as a user runs them, taking turns in the same run: `assistant ask`
with a data folder holding memories (so recall loads the embedder and the index)
and with one holding none. Prints the median wall time of each and their ratio
(goal from the First-contact issue: ≤ 1.5), and where a question's embedding comes
from (the NumPy encoder, so torch is never imported for it).
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

ROOT = Path(__file__).resolve().parents[1]
FACTS = ["My sister lives in Lyon.", "My dog is called Biscuit.", "I am allergic to peanuts."]


def cli(home: Path, *args: str) -> tuple[float, subprocess.CompletedProcess]:
    env = {**os.environ, "ASSISTANT_HOME": str(home)}
    t0 = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-m", "assistant", *args], env=env, capture_output=True, text=True
    )
    if out.returncode != 0:
        raise SystemExit(out.stderr)
    return time.perf_counter() - t0, out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        homes = {"with memories": Path(tmp) / "memories", "none stored": Path(tmp) / "empty"}
        for home in homes.values():
            home.mkdir()
            (home / "config").mkdir()
            (home / "config" / "settings.json").write_text(
                json.dumps({"generation": {"max_tokens": 16, "seed": 1, "temperature": 0}})
            )
        for fact in FACTS:
            cli(homes["with memories"], "memory", "add", fact)
        cli(homes["with memories"], "ask", "Hello")  # the index is built once, as in use
        times: dict[str, list[float]] = {k: [] for k in homes}
        recalled = 0
        for _ in range(args.rounds):
            for kind, home in homes.items():
                took, out = cli(home, "ask", "--json", "--no-save", "Where does my sister live?")
                times[kind].append(took)
                if kind == "with memories":
                    recalled += any("Lyon" in i["text"] for i in json.loads(out.stdout)["recalled"])
    med = {k: statistics.median(v) for k, v in times.items()}
    for kind, m in med.items():
        print(f"ask, {kind:13s}: median {m:.2f} s  ({', '.join(f'{t:.2f}' for t in times[kind])})")
    print(f"recalled the fact in {recalled}/{args.rounds} runs")
    ratio = med["with memories"] / med["none stored"]
    print(f"with memories ÷ none stored: {ratio:.2f}  (goal ≤ 1.5)")


if __name__ == "__main__":
    main()
