"""The model catalog: every entry valid, badges follow the documented rule for
several machines, and the CLI lists them for this one."""

from __future__ import annotations

import json

import pytest

from assistant.core.base.errors import AssistantError
from assistant.core.models.catalog import CatalogEntry, catalog_file, fit, load_catalog, with_fit
from assistant.core.models.hardware import Gpu, Hardware, detect
from tests.conftest import run_cli

LAPTOP = Hardware(ram_mb=16 * 1024, cpu_cores=8)
SMALL = Hardware(ram_mb=4 * 1024, cpu_cores=2)
GAMING = Hardware(ram_mb=32 * 1024, cpu_cores=8, gpus=(Gpu("RTX 4060", 8 * 1024, "cuda"),))


def entry(size_mb: int) -> CatalogEntry:
    return CatalogEntry(
        id=f"m-{size_mb}",
        name="M",
        family="F",
        params_b=1.0,
        quant="Q4_K_M",
        repo="org/m-GGUF",
        file="m.gguf",
        size_mb=size_mb,
        context=4096,
        license="MIT",
    )


def test_the_shipped_catalog_is_valid_and_pins_no_unverified_hashes():
    entries = load_catalog()
    assert len(entries) >= 8
    assert {"Qwen2.5", "Llama 3.2", "Phi", "Gemma"} <= {e.family for e in entries}
    for e in entries:
        assert e.file.endswith(".gguf") and "/" in e.repo
        assert e.sha256 is None  # pinned only once computed from the real file


@pytest.mark.parametrize(
    ("hw", "size_mb", "badge", "where"),
    [
        (LAPTOP, 1117, "fits", "cpu"),  # 1.5B on 8 cores
        (LAPTOP, 4683, "slow", "cpu"),  # 7B on the CPU: fits in RAM, slow
        (SMALL, 1117, "slow", "cpu"),  # 1.5B on 2 cores
        (SMALL, 4683, "won't fit", ""),  # 7B with 4 GB of RAM
        (GAMING, 4683, "fits", "gpu"),  # 7B in 8 GB of VRAM
        (GAMING, 9000, "fits", "gpu+cpu"),  # too big for the GPU alone
        (
            Hardware(ram_mb=4096, cpu_cores=4, gpus=(Gpu("x", 4096, "cuda"),)),
            4683,
            "slow",
            "gpu+cpu",
        ),
    ],
)
def test_badges_follow_the_documented_rule(hw, size_mb, badge, where):
    f = fit(entry(size_mb), hw)
    assert (f.badge, f.where) == (badge, where), f.reason
    assert f.reason.startswith("needs ~")


def test_this_machine_is_detected_and_the_cli_lists_the_catalog():
    hw = detect()
    assert hw.ram_mb > 512 and hw.cpu_cores >= 1
    r = run_cli("models", "catalog", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["hardware"]["ram_mb"] == hw.ram_mb
    rows = {m["id"]: m for m in out["models"]}
    expected = {r.entry.id: r.fit.badge for r in with_fit(load_catalog(), hw)}
    assert {k: v["badge"] for k, v in rows.items()} == expected
    assert all(m["badge"] in ("fits", "slow", "won't fit") for m in rows.values())
    text = run_cli("models", "catalog")
    assert "This machine:" in text.stdout and "qwen2.5-0.5b-instruct-q4_k_m" in text.stdout


def test_a_damaged_catalog_is_one_clear_error(tmp_path):
    bad = tmp_path / "models.json"
    bad.write_text(json.dumps({"models": [{"id": "X Y"}]}))
    with pytest.raises(AssistantError, match=r"model catalog .* is unreadable"):
        load_catalog(bad)
    dup = json.loads(catalog_file().read_text())
    dup["models"].append(dup["models"][0])
    bad.write_text(json.dumps(dup))
    with pytest.raises(AssistantError, match="lists an id twice"):
        load_catalog(bad)


def test_models_info_reads_gguf_metadata(starter_gguf, tmp_path):
    r = run_cli("models", "info", str(starter_gguf), "--json")
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    assert info["architecture"] == "llama" and info["quantization"] == "Q4_1"
    assert info["parameters"] == "135M" and info["context_length"] == 8192
    assert info["has_chat_template"] and "im_start" in info["chat_template"]
    (tmp_path / "x.gguf").write_bytes(b"not a gguf at all")
    r = run_cli("models", "info", str(tmp_path / "x.gguf"))
    assert r.returncode == 1 and r.stderr.startswith("error: ") and "Traceback" not in r.stderr
