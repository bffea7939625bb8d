"""What this machine can run: RAM, CPU cores and features, a GPU and its memory.

Read from the OS without extra dependencies (sysconf, /proc/cpuinfo, `nvidia-smi`
when present), so `assistant models catalog` is quick and works offline. Each
probe that fails just leaves its field empty.
"""

from __future__ import annotations

import logging
import os
import platform
import shutil
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

CPU_FLAGS = ("avx", "avx2", "avx512f", "fma", "f16c")  # what llama.cpp's CPU speed rests on


@dataclass(frozen=True)
class Gpu:
    name: str
    vram_mb: int
    backend: str  # "cuda", "metal"


@dataclass(frozen=True)
class Hardware:
    ram_mb: int
    cpu_cores: int
    cpu_flags: tuple[str, ...] = ()
    gpus: tuple[Gpu, ...] = field(default_factory=tuple)

    @property
    def vram_mb(self) -> int:
        return max((g.vram_mb for g in self.gpus), default=0)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["vram_mb"] = self.vram_mb
        return d


def _ram_mb() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2**20
    except (ValueError, OSError, AttributeError):  # Windows
        try:
            import ctypes

            class MemoryStatus(ctypes.Structure):
                _fields_ = [("length", ctypes.c_ulong), ("load", ctypes.c_ulong)] + [
                    (n, ctypes.c_ulonglong)
                    for n in ("total", "avail", "pagetotal", "pageavail", "vtotal", "vavail", "x")
                ]

            m = MemoryStatus()
            m.length = ctypes.sizeof(m)
            ctypes.windll.kernel32.GlobalMemoryStatusEx(ctypes.byref(m))  # type: ignore[attr-defined]
            return int(m.total // 2**20)
        except Exception:
            return 0


def _cpu_flags() -> tuple[str, ...]:
    try:
        text = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        return ()
    for line in text.splitlines():
        if line.startswith(("flags", "Features")):
            have = set(line.split(":", 1)[1].split())
            return tuple(f for f in CPU_FLAGS if f in have)
    return ()


def _nvidia() -> tuple[Gpu, ...]:
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return ()
    try:
        out = subprocess.run(
            [exe, "--query-gpu=name,memory.total", "--format=csv,noheader,nounits"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError) as e:
        log.info("nvidia-smi failed: %s", e)
        return ()
    gpus = []
    for line in out.strip().splitlines():
        name, _, mem = line.rpartition(",")
        if name and mem.strip().isdigit():
            gpus.append(Gpu(name.strip(), int(mem), "cuda"))
    return tuple(gpus)


def _apple() -> tuple[Gpu, ...]:
    if platform.system() == "Darwin" and platform.machine() == "arm64":
        # Unified memory: Metal may use about three quarters of it.
        return (Gpu("Apple Silicon (Metal)", _ram_mb() * 3 // 4, "metal"),)
    return ()


def detect() -> Hardware:
    return Hardware(
        ram_mb=_ram_mb(),
        cpu_cores=os.cpu_count() or 1,
        cpu_flags=_cpu_flags(),
        gpus=_nvidia() or _apple(),
    )
