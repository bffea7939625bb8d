"""The sampling a model's authors recommend for it."""

from __future__ import annotations

from assistant.core.base import starter
from assistant.core.engine import gguf_file


def recommended_sampling(info: gguf_file.GGUFInfo) -> dict[str, float]:
    """Sampling the model's authors recommend: GGUF metadata, or the starter's model card."""
    rec: dict[str, float] = {}
    for key, name in (
        ("general.sampling.temp", "temperature"),
        ("general.sampling.top_p", "top_p"),
    ):
        value = info.metadata.get(key)
        if isinstance(value, int | float):
            rec[name] = float(value)
    starter_path = starter.CHAT.path()
    if not rec and starter_path is not None and info.path.resolve() == starter_path.resolve():
        rec = dict(starter.CHAT.recommended)
    return rec
