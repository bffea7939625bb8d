"""Loading with GPU offload, and falling back when it does not fit.

With a GPU build of llama.cpp, `model.n_gpu_layers = -1` (the default) offloads
every layer. If loading fails (typically out of GPU memory) it is retried with
half the layers, a quarter, then on the CPU alone, and the result says what was
chosen so the app can tell the user. A CPU-only build simply loads on the CPU.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from assistant.core.base.errors import ModelError
from assistant.core.engine.gguf_file import GGUFInfo

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Offload:
    requested: int  # as set: -1 = all
    used: int  # layers actually on the GPU
    total: int  # the model's layers (0 when unknown)
    note: str  # what to tell the user; "" when nothing worth saying happened


def gpu_build() -> bool:
    """Can this llama.cpp build offload to a GPU (CUDA, Metal, Vulkan…)?"""
    import llama_cpp

    return bool(llama_cpp.llama_supports_gpu_offload())


def layer_count(info: GGUFInfo) -> int:
    v = info.metadata.get(f"{info.architecture}.block_count")
    return int(v) + 1 if isinstance(v, int) else 0  # + the output layer, as llama.cpp counts


def attempts(requested: int, total: int) -> list[int]:
    """Layer counts to try, most first: all (or as asked), half, a quarter, none."""
    first = total if requested < 0 else min(requested, total) if total else requested
    if first <= 0:
        return [0]
    tries = [first, first // 2, first // 4, 0]
    return [n for i, n in enumerate(tries) if n not in tries[:i]]


def load_offloaded(
    info: GGUFInfo,
    requested: int,
    load: Callable[[int], Any],
    has_gpu: bool | None = None,
) -> tuple[Any, Offload]:
    """``load(n_gpu_layers)`` with fallback; returns the model and what was used."""
    has_gpu = gpu_build() if has_gpu is None else has_gpu
    total = layer_count(info)
    if not has_gpu:
        note = (
            "This llama.cpp build has no GPU support, so the model runs on the CPU "
            "(`make llama-gpu` builds one)."
            if requested > 0
            else ""
        )
        return load(0), Offload(requested, 0, total, note)
    tries = attempts(requested, total)
    last: ModelError | None = None
    for n in tries:
        try:
            model = load(n)
        except ModelError as e:
            log.warning("loading with %s GPU layers failed: %s", n, e)
            last = e
            continue
        if n == tries[0]:
            if n == 0:  # CPU only was asked for
                return model, Offload(requested, 0, total, "")
            where = "all layers" if requested < 0 or n >= total > 0 else f"{n} layers"
            return model, Offload(requested, n, total, f"On the GPU: {where}.")
        of = f" of {total}" if total else ""
        skip = (
            f" To skip the retries next time: `assistant models settings {info.path.name} "
            f"--gpu-layers {n}` (or Settings → GPU layers, only for this model)."
        )
        note = (
            f"The model did not fit on the GPU with {tries[0]} layers; loaded with "
            f"{n}{of} on the GPU and the rest on the CPU.{skip}"
            if n
            else f"The model did not fit on the GPU; it runs on the CPU instead (slower).{skip}"
        )
        return model, Offload(requested, n, total, note)
    assert last is not None
    raise last
