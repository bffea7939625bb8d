"""GPU offload with fallback. No GPU here, so the GPU side is a scripted loader
that fails above a given number of layers (as an out-of-memory load does); the
CPU side is the real starter model on this CPU-only build."""

from __future__ import annotations

import pytest

from assistant.core.base.errors import ModelError
from assistant.core.engine import gguf_file
from assistant.core.engine.gpu_offload import attempts, layer_count, load_offloaded


@pytest.fixture(scope="module")
def info(starter_gguf):
    return gguf_file.inspect(starter_gguf)


def gpu_with_room_for(max_layers: int, calls: list[int]):
    def load(n: int) -> str:
        calls.append(n)
        if n > max_layers:
            raise ModelError("Cannot load x: not enough memory (CUDA out of memory).", "…")
        return f"model@{n}"

    return load


def test_attempts_go_all_half_quarter_cpu():
    assert attempts(-1, 31) == [31, 15, 7, 0]
    assert attempts(10, 31) == [10, 5, 2, 0]
    assert attempts(0, 31) == [0]
    assert attempts(1, 31) == [1, 0]


def test_everything_fits(info):
    assert layer_count(info) == 31  # SmolLM2-135M: 30 blocks + output
    calls: list[int] = []
    model, off = load_offloaded(info, -1, gpu_with_room_for(99, calls), has_gpu=True)
    assert model == "model@31" and calls == [31]
    assert off.used == 31 and off.note == "On the GPU: all layers."


def test_out_of_gpu_memory_retries_with_fewer_layers(info):
    calls: list[int] = []
    model, off = load_offloaded(info, -1, gpu_with_room_for(10, calls), has_gpu=True)
    assert calls == [31, 15, 7] and model == "model@7"
    assert off.used == 7 and "loaded with 7 of 31 on the GPU" in off.note
    assert f"`assistant models settings {info.path.name} --gpu-layers 7`" in off.note


def test_falls_back_to_the_cpu_and_says_so(info):
    calls: list[int] = []
    model, off = load_offloaded(info, -1, gpu_with_room_for(0, calls), has_gpu=True)
    assert calls == [31, 15, 7, 0] and model == "model@0"
    assert off.used == 0 and "runs on the CPU instead" in off.note


def test_a_failure_on_the_cpu_too_is_reported(info):
    def load(_n: int) -> str:
        raise ModelError("Cannot load x: damaged.", "Download it again.")

    with pytest.raises(ModelError, match="damaged"):
        load_offloaded(info, -1, load, has_gpu=True)


def test_cpu_only_on_a_gpu_build_says_nothing(info):
    calls: list[int] = []
    _, off = load_offloaded(info, 0, gpu_with_room_for(99, calls), has_gpu=True)
    assert calls == [0] and off.used == 0 and off.note == ""


def test_a_cpu_build_loads_on_the_cpu(info):
    calls: list[int] = []
    _, off = load_offloaded(info, -1, gpu_with_room_for(99, calls), has_gpu=False)
    assert calls == [0] and off.note == ""  # the default asks for nothing special
    _, off = load_offloaded(info, 20, gpu_with_room_for(99, calls), has_gpu=False)
    assert "no GPU support" in off.note


def test_the_real_engine_on_this_cpu_build(engine):
    d = engine.describe()
    assert d.gpu_layers == 0 and d.offload_note == ""
