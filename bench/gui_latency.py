"""GUI responsiveness: event-loop stalls and time to window shown.

    python bench/gui_latency.py           # offscreen unless DISPLAY is set

Stall = the worst lateness of a 10 ms QTimer (goal ≤ 50 ms) while:
  startup (window shown, model loading behind it), an answer streaming,
  a long transcript being opened and scrolled.
Startup = process start to window shown, in a fresh process (goal ≤ 1.5 s).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("ASSISTANT_HOME", tempfile.mkdtemp(prefix="assistant-guibench-"))
if not os.environ.get("DISPLAY"):
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

LONG_ANSWER = """Here is an example:

```python
def fibonacci(n: int) -> list[int]:
    out = [0, 1]
    while len(out) < n:
        out.append(out[-1] + out[-2])
    return out[:n]
```

It builds the list **iteratively**, which is *fast* and uses `O(n)` memory.

| n | value |
|---|-------|
| 5 | 3 |
| 10 | 34 |
"""


class StallMeter:
    """A 10 ms timer; records how late each tick fires."""

    def __init__(self) -> None:
        from PySide6.QtCore import QTimer

        self.worst = 0.0
        self.ticks = 0
        self._last = time.perf_counter()
        self.timer = QTimer()
        self.timer.setInterval(10)
        self.timer.timeout.connect(self._tick)

    def _tick(self) -> None:
        now = time.perf_counter()
        self.worst = max(self.worst, now - self._last - 0.010)
        self._last = now
        self.ticks += 1

    def start(self) -> None:
        self.worst, self.ticks, self._last = 0.0, 0, time.perf_counter()
        self.timer.start()

    def stop(self) -> float:
        self.timer.stop()
        return max(0.0, self.worst)


def pump(app, seconds: float, until=None) -> None:
    """Run the real event loop (as app.exec() would) until ``until()`` or the timeout."""
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    poll = QTimer()
    poll.setInterval(20)
    poll.timeout.connect(lambda: until is not None and until() and loop.quit())
    QTimer.singleShot(int(seconds * 1000), loop.quit)
    poll.start()
    loop.exec()
    poll.stop()


def startup_times(n: int) -> list[float]:
    times = []
    env = {**os.environ, "ASSISTANT_REPORT_STARTUP": "1"}
    for _ in range(n):
        t0 = time.perf_counter()
        p = subprocess.Popen(
            [sys.executable, "-m", "assistant", "gui"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=env,
        )
        for line in p.stdout:  # type: ignore[union-attr]
            if line.startswith("window-shown"):
                times.append(time.perf_counter() - t0)
                break
        p.wait(timeout=60)
    return times


def main() -> None:
    from PySide6.QtWidgets import QApplication

    from assistant.core.base.paths import get_paths
    from assistant.core.config.settings import Settings, save_settings

    paths = get_paths().ensure()
    s = Settings()
    s.generation.max_tokens = 300
    s.generation.seed = 3
    save_settings(s, paths)

    starts = startup_times(5)
    app = QApplication.instance() or QApplication([])
    from assistant.ui.app import create_window

    meter = StallMeter()
    results: dict[str, float] = {}

    w = create_window(app)
    w.show()
    meter.start()  # from the first event-loop turn after show, while the model loads
    pump(app, 30, until=lambda: bool(w.model_info))
    pump(app, 0.5)
    results["startup_stall_ms"] = meter.stop() * 1000

    meter.start()
    w.composer.setPlainText("Write a long story about a lighthouse keeper.")
    w.submit(w.composer.toPlainText())
    pump(app, 120, until=lambda: w.streaming is None)
    results["streaming_stall_ms"] = meter.stop() * 1000
    answer = w.chat.messages()[-1].text
    last = w.store.thread(w.conversation_id)[-1]
    results["tokens_per_s_in_window"] = last.stats.get("tokens_per_s", 0.0)

    conv = w.store.create_conversation("Long transcript")
    for i in range(100):
        w.store.add_message(conv.id, "user", f"Question {i}: show me an example.")
        w.store.add_message(conv.id, "assistant", LONG_ANSWER)
    w.sidebar.refresh()
    meter.start()
    t0 = time.perf_counter()
    w.open_conversation(conv.id)
    results["open_200_messages_ms"] = (time.perf_counter() - t0) * 1000
    pump(app, 60, until=lambda: len(w.chat.messages()) == 200)  # until fully filled in
    results["filled_in_s"] = time.perf_counter() - t0
    pump(app, 0.2)
    results["open_stall_ms"] = meter.stop() * 1000

    bar = w.chat.verticalScrollBar()
    meter.start()
    bar.setValue(0)
    pump(app, 0.2)
    for v in range(0, bar.maximum(), max(1, bar.maximum() // 200)):
        bar.setValue(v)
        pump(app, 0.005)
    results["scroll_stall_ms"] = meter.stop() * 1000
    w.close()

    results["startup_s_median"] = statistics.median(starts)
    results["startup_s_max"] = max(starts)
    print(f"platform: {app.platformName()}, answer {len(answer)} chars")
    for k, v in results.items():
        print(f"  {k:24s} {v:8.3f}")
    print(json.dumps({k: round(v, 4) for k, v in results.items()}))


if __name__ == "__main__":
    main()
