"""Smoke test of the frozen one-folder bundle (`make package` -> dist/assistant/):
the binary alone, offline, with a fresh data folder. `pytest -m bundle` runs only
this; `make test` runs it when the bundle exists."""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT, stored_answers
from tests.helpers.voice import speak, wer

BUNDLE = Path(os.environ.get("ASSISTANT_BUNDLE", ROOT / "dist" / "assistant"))
EXE = BUNDLE / "assistant"

pytestmark = [
    pytest.mark.bundle,
    pytest.mark.timeout(600),
    pytest.mark.skipif(not EXE.exists(), reason="no bundle: `make package` builds it"),
]


def run(*args: str, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    # From another folder, with no checkout on the path: only what the bundle holds.
    clean = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return subprocess.run(
        [str(EXE), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd="/",
        env={**clean, **(env or {})},
    )


def emulated(cpu: str, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """The bundle on an older CPU: qemu-user emulates `cpu` (its instruction set only).

    The bootloader starts the app as a child of itself with these variables set, and
    qemu-user would run that child natively; with them set from the start, the first
    process is the app and qemu runs all of it.
    """
    internal = BUNDLE / "_internal"
    child = {
        "LD_LIBRARY_PATH": str(internal),
        "_PYI_ARCHIVE_FILE": str(EXE),
        "_PYI_APPLICATION_HOME_DIR": str(internal),
        "_PYI_PARENT_PROCESS_LEVEL": "-1",
        "_PYI_LINUX_PROCESS_NAME": "assistant",
    }
    # Variables that force a CPU kind (OPENBLAS_CORETYPE=Haswell in some CI images makes
    # NumPy's OpenBLAS run AVX code on the emulated Nehalem) would test the environment,
    # not the bundle: the emulated CPU must pick its own code.
    forced = ("PYTHONPATH", "VIRTUAL_ENV", "OPENBLAS_CORETYPE", "MKL_ENABLE_INSTRUCTIONS")
    clean = {k: v for k, v in os.environ.items() if k not in forced}
    return subprocess.run(
        ["qemu-x86_64", "-cpu", cpu, str(EXE), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd="/",
        env={**clean, **child},
    )


needs_qemu = pytest.mark.skipif(
    platform.machine() != "x86_64" or shutil.which("qemu-x86_64") is None,
    reason="needs an x86-64 machine and qemu-x86_64 (qemu-user; make sysdeps installs it)",
)

# Haswell: AVX2, no AVX-512 (most laptops and desktops of 2013-2020). Nehalem: SSE4.2, no
# AVX (x86-64-v2, the oldest CPUs current Linux distributions still support).
# with the CPU library llama.cpp must pick for each (the best one that CPU can run).
OLDER_CPUS = {"Haswell": "haswell", "Nehalem": "sse42"}


@needs_qemu
@pytest.mark.parametrize("cpu", OLDER_CPUS)
def test_the_chat_model_answers_on_an_older_cpu(assistant_home, cpu):
    # Few tokens: emulation is some 20-50 times slower than the real CPU.
    r = run("settings", "set", "generation.max_tokens", "12")
    assert r.returncode == 0, r.stderr[-3000:]
    start = time.monotonic()
    r = emulated(cpu, "-v", "ask", "What is the capital of France?", "--json", "--no-save")
    took = time.monotonic() - start
    # qemu ends itself with the signal the program got: SIGILL (-4, or 132 from a shell).
    assert r.returncode not in (-4, 132), (
        f"Illegal instruction on {cpu}: the bundle has code this CPU cannot run"
    )
    assert r.returncode == 0, r.stderr[-3000:]
    answer = json.loads(r.stdout)["answer"]
    assert "Paris" in answer, answer
    assert f"llama.cpp CPU code: {OLDER_CPUS[cpu]}" in r.stderr, r.stderr[-3000:]
    print(f"{cpu}: answered in {took:.0f} s")


@needs_qemu
@pytest.mark.parametrize("cpu", OLDER_CPUS)
def test_memory_and_speech_run_on_an_older_cpu(assistant_home, tmp_path, cpu):
    # The other native code: chromadb's index, the NumPy embedder, CTranslate2 (speech).
    # They pick their CPU code at run time; this is the check that they do.
    r = emulated(cpu, "memory", "add", "My sister lives in Lyon.")
    assert r.returncode == 0, r.stderr[-3000:]
    r = emulated(cpu, "memory", "search", "Where does my sister live?")
    assert r.returncode == 0 and "Lyon" in r.stdout, (r.stdout, r.stderr[-3000:])
    text = "Please remind me to call my sister tomorrow morning."
    r = emulated(cpu, "transcribe", str(speak(text, tmp_path / "say.wav")))
    assert r.returncode not in (-4, 132), f"Illegal instruction in speech recognition on {cpu}"
    assert r.returncode == 0, r.stderr[-3000:]
    assert wer(text, r.stdout) <= 0.2, r.stdout


def test_the_bundle_has_llama_cpp_for_every_cpu_and_no_amx_kernels():
    """llama.cpp's AMX kernels crash on Sapphire Rapids-class CPUs (ggml-org/llama.cpp#20824):
    the variant library that has them is left out, so those CPUs load the AVX-512 one."""
    lib = BUNDLE / "_internal" / "llama_cpp" / "lib"
    variants = sorted(p.name for p in lib.glob("libggml-cpu-*.so"))
    assert "libggml-cpu-x64.so" in variants and "libggml-cpu-haswell.so" in variants, variants
    assert not (lib / "libggml-cpu.so").exists(), "a CPU backend built for one CPU is bundled"
    assert not [v for v in variants if "sapphirerapids" in v], variants
    if shutil.which("objdump") is None:
        pytest.skip("objdump (binutils) is needed to look for AMX instructions")
    amx = re.compile(r"\t(ldtilecfg|tileloadd|tdpb|tilezero)")
    for p in sorted(lib.glob("*.so")):
        code = subprocess.run(
            ["objdump", "-d", "--no-show-raw-insn", str(p)], capture_output=True, text=True
        ).stdout
        assert not amx.search(code), f"{p.name} has AMX instructions"


def test_version_and_an_offline_answer_with_the_starter_model(assistant_home):
    r = run("--version")
    assert r.returncode == 0 and r.stdout.strip().startswith("assistant "), r.stderr
    r = run("ask", "What is the capital of France?", "--json")
    assert r.returncode == 0, r.stderr[-3000:]
    out = json.loads(r.stdout)
    assert "Paris" in out["answer"] and out["model"] == "SmolLM2-135M-Instruct.Q4_1"


def test_memory_recall_and_speech_work_frozen(assistant_home, tmp_path):
    # Both load torch / CTranslate2 and their data files: what freezing most often breaks.
    r = run("memory", "add", "My sister lives in Lyon.")
    assert r.returncode == 0, r.stderr[-3000:]
    r = run("ask", "Where does my sister live?", "--json")
    assert r.returncode == 0 and "Answering without memory" not in r.stderr, r.stderr[-3000:]
    recalled = [i["text"] for i in json.loads(r.stdout)["recalled"]]
    assert any("Lyon" in t for t in recalled), recalled
    text = "Please remind me to call my sister tomorrow morning."
    wav = speak(text, tmp_path / "say.wav")
    r = run("transcribe", str(wav))
    assert r.returncode == 0, r.stderr[-3000:]
    assert wer(text, r.stdout) <= 0.2, r.stdout


@pytest.mark.skipif(shutil.which("import") is None, reason="needs imagemagick")
def test_the_window_starts_under_xvfb(xvfb, assistant_home):
    from PIL import Image, ImageStat

    env = {"DISPLAY": xvfb, "QT_QPA_PLATFORM": "xcb"}
    clean = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    app = subprocess.Popen(
        [str(EXE), "gui"],
        cwd="/",
        env={**clean, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    full = {**os.environ, **env}
    try:
        end = time.monotonic() + 60
        found = ""
        while time.monotonic() < end and not found:
            found = subprocess.run(
                ["xdotool", "search", "--name", "^Assistant$"],
                env=full,
                capture_output=True,
                text=True,
            ).stdout.strip()
            time.sleep(0.3)
        assert found, "no window appeared"
        xdo = ["xdotool"]
        subprocess.run([*xdo, "windowfocus", "--sync", found.split()[0]], env=full)
        time.sleep(1.0)
        subprocess.run([*xdo, "type", "--delay", "15", "What is the capital of France?"], env=full)
        subprocess.run([*xdo, "key", "Return"], env=full)
        db = assistant_home / "data" / "history.sqlite3"
        end = time.monotonic() + 90
        done = lambda: [a for status, a in stored_answers(db) if status == "complete"]  # noqa: E731
        while time.monotonic() < end and not done():
            time.sleep(0.3)
        answers = done()
        assert answers and "Paris" in answers[0], answers
        time.sleep(0.5)
        shot = Path(os.environ.get("ASSISTANT_TEST_ARTIFACTS", ROOT / "test-artifacts"))
        shot.mkdir(parents=True, exist_ok=True)
        shot = shot / "bundle-window.png"
        subprocess.run(["import", "-window", "root", str(shot)], env=full, check=True)
    finally:
        app.terminate()
        try:
            app.wait(30)
        except subprocess.TimeoutExpired:
            app.kill()
    assert app.returncode == 0, app.stderr.read()[-3000:]
    img = Image.open(shot).convert("L")
    assert ImageStat.Stat(img).stddev[0] > 20, "screenshot looks blank"
