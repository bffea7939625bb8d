"""The model catalog (resources/models.json) and a fit badge for each entry.

The badge is a plain rule, documented here so users and tests can check it:
a model needs about its file size × 1.2 plus 0.5 GB (the KV cache for a few
thousand tokens and llama.cpp's buffers). With a GPU whose memory holds that, it
"fits" (all layers offloaded). Otherwise it must fit in RAM (leaving 1.5 GB for
the system and the app); on the CPU it is "slow" when the file is larger than
0.5 GB per core (under ~5 tokens/s on a typical laptop), else it "fits". Too big
for RAM and GPU together: "won't fit".
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from assistant.core.base.errors import AssistantError
from assistant.core.base.files import MB, size_text
from assistant.core.models.hardware import Hardware

Badge = Literal["fits", "slow", "won't fit", "unknown"]  # unknown: the hardware was not read
BADGE_TEXT: dict[str, str] = {
    "fits": "✓ fits",
    "slow": "~ slow",
    "won't fit": "✗ won't fit",
    "unknown": "?",
}
SYSTEM_RESERVE_MB = 1536
OVERHEAD_MB = 512
CPU_MB_PER_CORE = 512


class CatalogEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]*$")
    name: str
    family: str
    params_b: float = Field(gt=0)
    quant: str
    repo: str = Field(pattern=r"^[\w.-]+/[\w.-]+$")
    file: str = Field(pattern=r"^[\w.-]+\.gguf$")
    size_mb: int = Field(gt=0)
    context: int = Field(gt=0)
    license: str
    sha256: str | None = Field(None, pattern=r"^[0-9a-f]{64}$")
    summary: str = ""

    @property
    def need_mb(self) -> int:
        return int(self.size_mb * 1.2) + OVERHEAD_MB


@dataclass(frozen=True)
class Fit:
    badge: Badge
    where: str  # "gpu", "cpu", "gpu+cpu", ""
    reason: str


def fit(entry: CatalogEntry, hw: Hardware) -> Fit:
    need = entry.need_mb
    ram = max(0, hw.ram_mb - SYSTEM_RESERVE_MB)
    if hw.vram_mb and need <= hw.vram_mb:
        return Fit("fits", "gpu", f"needs ~{gb(need)}; fits in the GPU's {gb(hw.vram_mb)}")
    if need <= ram:
        if hw.vram_mb:
            return Fit("fits", "gpu+cpu", f"needs ~{gb(need)}; part on the GPU, the rest in RAM")
        if entry.size_mb > CPU_MB_PER_CORE * hw.cpu_cores:
            return Fit(
                "slow",
                "cpu",
                f"needs ~{gb(need)} of RAM; on {hw.cpu_cores} CPU cores expect a few tokens/s",
            )
        return Fit("fits", "cpu", f"needs ~{gb(need)} of RAM; runs on the CPU")
    if need <= ram + hw.vram_mb:
        return Fit("slow", "gpu+cpu", f"needs ~{gb(need)}; only just fits GPU and RAM together")
    have = f"{gb(ram)} of free RAM" + (f" and {gb(hw.vram_mb)} on the GPU" if hw.vram_mb else "")
    return Fit("won't fit", "", f"needs ~{gb(need)}; this machine has {have}")


def gb(mb: int) -> str:
    """Catalog sizes are in MB."""
    return size_text(mb * MB)


def catalog_file() -> Path:
    # resources/ sits beside the package in a checkout; a bundle puts it there too.
    return Path(__file__).resolve().parents[3] / "resources" / "models.json"


def load_catalog(path: Path | None = None) -> list[CatalogEntry]:
    path = path or catalog_file()
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        entries = [CatalogEntry.model_validate(m) for m in raw["models"]]
    except (OSError, ValueError, KeyError, TypeError, ValidationError) as e:
        raise AssistantError(
            f"The model catalog {path} is unreadable: {str(e).splitlines()[0]}.",
            "Reinstall the assistant, or import a GGUF file with `assistant models import`.",
        ) from e
    ids = [e.id for e in entries]
    if len(set(ids)) != len(ids):
        raise AssistantError(f"The model catalog {path} lists an id twice.", "Reinstall.")
    return entries


@dataclass(frozen=True)
class CatalogRow:
    """One catalog entry as this machine sees it: the model, and whether it fits."""

    entry: CatalogEntry
    fit: Fit

    def to_dict(self) -> dict[str, Any]:
        """For `models catalog --json`: the entry's fields, its need and its badge."""
        f = self.fit
        return self.entry.model_dump() | {
            "need_mb": self.entry.need_mb,
            "badge": f.badge,
            "where": f.where,
            "reason": f.reason,
        }


def with_fit(entries: list[CatalogEntry], hw: Hardware) -> list[CatalogRow]:
    return [CatalogRow(e, fit(e, hw)) for e in entries]
