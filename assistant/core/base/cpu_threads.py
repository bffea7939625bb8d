"""How many threads generation uses: the cores that other programs leave free.

llama.cpp's threads spin-wait for each other at every step of a token, so when another
program takes one of their cores, every token waits for the thread that lost it. Measured
with the starter model on two cores: two threads give ~110 tokens/s on an idle machine
and ~23 beside one busy process, while one thread keeps ~60. A passive OpenMP wait
policy would stop the spinning, but it cut the idle speed to ~35 tokens/s.

So the engine asks a ``ThreadGovernor`` between tokens. About four times a second it
reads how much CPU time was spent on this process's cores and how much of that was this
process's own; the rest is other programs, and generation gets the cores they leave
(at least one, at most the cap). Reading two counters costs microseconds.

The engine's governor also watches between answers (a thread taking the same reading
four times a second, ~0.1 ms each): without it, the first window of an answer spans its
whole first prompt slice, which on a busy machine ran seconds on every core before the
count came down.

Work on other threads of this process (an index being built, speech being transcribed)
counts as ours and is not backed off from: the window runs those rarely and briefly,
and the ones that run at start (the speech model's warm-up, memory opening) lower
their own priority with ``run_in_background`` so that an answer gets the cores first.
"""

from __future__ import annotations

import logging
import math
import os
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)

# Seconds between readings: long enough for the counters' 10 ms resolution, short
# enough that a slowed answer recovers within a few dozen tokens.
INTERVAL_S = 0.25
# A reading further apart than this (the machine was idle between answers) says
# nothing about now: it only starts the next window.
STALE_S = 2.0
# The share of a core other programs may use before generation gives that core up: more,
# and a thread loses its core often enough that one thread fewer is faster (a thread
# that waits stalls all the others).
TOLERATED = 0.25


@dataclass(frozen=True)
class CpuReading:
    at: float  # time.monotonic()
    busy_s: float  # CPU seconds spent by anything on this process's cores
    ours_s: float  # CPU seconds spent by this process
    cores: int  # how many cores this process may run on


def read_cpu() -> CpuReading | None:
    """The counters now, or None where the platform does not give them."""
    try:
        import psutil

        me = psutil.Process()
        try:
            allowed = me.cpu_affinity() or []
        except (AttributeError, psutil.Error):  # macOS has no affinity
            allowed = []
        per_cpu = psutil.cpu_times(percpu=True)
        cpus = [per_cpu[i] for i in allowed if i < len(per_cpu)] or per_cpu
        # Time not idle; steal is time the hypervisor gave to other machines.
        busy = sum(
            t.user
            + t.system
            + getattr(t, "nice", 0.0)
            + getattr(t, "irq", 0.0)
            + getattr(t, "softirq", 0.0)
            + getattr(t, "steal", 0.0)
            for t in cpus
        )
        mine = me.cpu_times()
        return CpuReading(time.monotonic(), busy, mine.user + mine.system, len(cpus))
    except Exception as e:  # without readings the count stays as it is
        log.debug("no CPU readings: %s", e)
        return None


class ThreadGovernor:
    """Chooses the thread count for the next tokens from what other programs use."""

    def __init__(
        self,
        cap: int,
        reader: Callable[[], CpuReading | None] = read_cpu,
        watch: bool = False,
    ) -> None:
        self.cap = max(1, cap)
        self.threads = self.cap
        self._read = reader
        self._last: CpuReading | None = None
        self._seen: tuple[float, float, int] | None = None  # the watcher's (at, others, cores)
        self._stop = threading.Event()
        if watch:
            threading.Thread(target=self._watch, name="cpu-watch", daemon=True).start()

    def _watch(self) -> None:
        before = self._read()
        while not self._stop.wait(INTERVAL_S):
            now = self._read()
            if before is not None and now is not None and now.at > before.at:
                self._seen = (now.at, _others(before, now), now.cores)
            before = now

    def close(self) -> None:
        self._stop.set()

    def update(self) -> int | None:
        """The new thread count when it should change now, else None."""
        seen = self._seen
        if seen is not None and time.monotonic() - seen[0] < STALE_S:
            _, others, cores = seen  # the watcher's, at most a reading old
        else:
            if self._last is not None and time.monotonic() - self._last.at < INTERVAL_S:
                return None
            now = self._read()
            if now is None:
                return None
            before, self._last = self._last, now
            if before is None or now.at - before.at > STALE_S:
                return None
            others, cores = _others(before, now), now.cores
        want = min(self.cap, max(1, math.floor(cores - others + TOLERATED)))
        if want == self.threads:
            return None
        log.info(
            "generation threads %d -> %d (other programs use %.1f cores)",
            self.threads,
            want,
            others,
        )
        self.threads = want
        return want


def _others(before: CpuReading, now: CpuReading) -> float:
    """Cores' worth of CPU time other programs took between two readings."""
    wall = now.at - before.at
    return max(0.0, (now.busy_s - before.busy_s) - (now.ours_s - before.ours_s)) / wall


# Nice 10 weighs about a tenth of a normal thread in Linux's scheduler: it still runs
# on an idle core but yields one the answer's spinning threads want.
BACKGROUND_NICE = 10


def run_in_background() -> None:
    """Lower the calling thread's CPU priority (and that of threads it starts, such
    as a runtime's worker pool). Linux sets priority per thread; elsewhere a no-op."""
    if not sys.platform.startswith("linux"):
        return
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, os.getpriority(os.PRIO_PROCESS, tid) + BACKGROUND_NICE)
    except OSError as e:  # a sandbox that forbids it: run at normal priority
        log.debug("background priority not set: %s", e)
