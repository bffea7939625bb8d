"""First answer: does recall hold a fresh `assistant ask` back?

    python bench/first_answer.py [--rounds N]

Fresh processes, as a user runs them, taking turns in the same run, each with a
data folder holding memories (so recall loads the embedder and the index) and with
one holding none:

- `assistant ask`: the median wall time of each and their ratio (goal from the
  First-contact issue: ≤ 1.5);
- the window: a question sent the moment it is shown; the chat model's load (window
  shown → model loaded) and the first token of the answer after it (goal: first
  token ≤ model load + 1 s, i.e. recall adds under a second).
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


def window_child() -> None:
    """In a fresh process: show the window, ask at once, print the times as JSON."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    sys.path.insert(0, str(ROOT))
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from assistant.ui.app import create_window

    t0 = time.perf_counter()
    app = QApplication([])
    w = create_window(app)
    w.show()
    shown = time.perf_counter()
    marks: dict[str, float] = {"shown": shown - t0}
    engine = w.engine  # its signals, as the window gets them (queued onto this thread)
    engine.loaded.connect(lambda _i: marks.setdefault("loaded", time.perf_counter() - t0))

    def watch(answer) -> None:
        answer.chunk.connect(lambda _t: marks.setdefault("first_token", time.perf_counter() - t0))
        answer.recalled.connect(lambda items: marks.setdefault("recalled", len(items)))
        answer.finished.connect(lambda d: marks.setdefault("prompt_tokens", d.stats.prompt_tokens))
        answer.failed.connect(lambda m: marks.setdefault("failed", m))

    engine.answer_started.connect(watch)
    # The GUI thread looks for the end itself, between events.
    poll = QTimer()
    poll.timeout.connect(lambda: ("prompt_tokens" in marks or "failed" in marks) and app.quit())
    poll.start(10)
    QTimer.singleShot(0, lambda: w.submit("Where does my sister live?"))
    QTimer.singleShot(120_000, app.quit)
    app.exec()
    print(json.dumps(marks), flush=True)
    os._exit(0)  # the memory thread may still be finishing; the figures are out


def window_times(home: Path) -> dict[str, float]:
    env = {**os.environ, "ASSISTANT_HOME": str(home)}
    out = subprocess.run(
        [sys.executable, __file__, "--window-child"], env=env, capture_output=True, text=True
    )
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith("{")]
    if not lines:
        raise SystemExit(out.stderr)
    marks = json.loads(lines[-1])
    if "failed" in marks or "first_token" not in marks:
        raise SystemExit(f"no answer: {marks}")
    return marks


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--window-child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.window_child:
        window_child()
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
        loads: dict[str, list[float]] = {k: [] for k in homes}
        after: dict[str, list[float]] = {k: [] for k in homes}
        prompts: dict[str, int] = {}
        recalled = 0
        for _ in range(args.rounds):
            for kind, home in homes.items():
                took, out = cli(home, "ask", "--json", "--no-save", "Where does my sister live?")
                times[kind].append(took)
                if kind == "with memories":
                    recalled += any("Lyon" in i["text"] for i in json.loads(out.stdout)["recalled"])
                # A copy each time: the window reopens the last conversation, and the
                # first answer of a start is measured, not the tenth of one chat.
                copy = Path(tmp) / "window"
                shutil.rmtree(copy, ignore_errors=True)
                shutil.copytree(home, copy)
                marks = window_times(copy)
                loads[kind].append(marks["loaded"] - marks["shown"])
                after[kind].append(marks["first_token"] - marks["loaded"])
                prompts[kind] = marks["prompt_tokens"]
    med = {k: statistics.median(v) for k, v in times.items()}
    for kind, m in med.items():
        print(f"ask, {kind:13s}: median {m:.2f} s  ({', '.join(f'{t:.2f}' for t in times[kind])})")
    print(f"recalled the fact in {recalled}/{args.rounds} runs")
    ratio = med["with memories"] / med["none stored"]
    print(f"with memories ÷ none stored: {ratio:.2f}  (goal ≤ 1.5)")
    print("window, a question sent when it is shown:")
    for kind in homes:
        load, gap = statistics.median(loads[kind]), statistics.median(after[kind])
        print(
            f"  {kind:13s}: model load {load:.2f} s, first token {gap:.2f} s after it"
            f" (worst {max(after[kind]):.2f}; prompt {prompts[kind]} tokens)"
        )


if __name__ == "__main__":
    main()
