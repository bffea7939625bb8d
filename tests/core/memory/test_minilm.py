"""The NumPy encoder gives sentence-transformers' vectors, and questions never wait
for torch: the real bundled all-MiniLM-L6-v2 both ways."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np

from assistant.core.memory.embedder import Embedder
from assistant.core.memory.minilm import MiniLM, supports
from tests.conftest import ROOT

TEXTS = [
    "Where does my sister live?",
    "The user's sister lives in Lyon.",
    "",
    "ok",
    "Größe, naïve café — 東京 🙂",
    "A passage far past the 256-token limit, which both must cut the same way. " * 40,
    "def main():\n    return 42\n",
]


def test_the_same_vectors_as_sentence_transformers(embedder):
    st_embedder = Embedder(None, embedder.cache_dir)
    folder = st_embedder._resolve()  # the unpacked bundled model
    assert supports(Path(folder))
    fast = MiniLM(Path(folder)).embed(TEXTS)
    st = st_embedder._sentence_transformer().encode(TEXTS, normalize_embeddings=True)
    cos = (fast * st).sum(1)
    assert cos.min() >= 0.9999, cos
    assert np.allclose(np.linalg.norm(fast, axis=1), 1.0, atol=1e-5)


def test_a_question_is_embedded_without_loading_torch(tmp_path):
    code = textwrap.dedent(
        f"""
        import sys, time
        from pathlib import Path
        from assistant.core.memory.embedder import Embedder
        t = time.perf_counter()
        e = Embedder(None, Path({str(tmp_path)!r}))
        v = e.embed(["What is my dog's name?"])
        print(v.shape, round(time.perf_counter() - t, 2))
        print("torch" in sys.modules, "sentence_transformers" in sys.modules)
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert out.returncode == 0, out.stderr
    shape, loaded = out.stdout.splitlines()
    assert shape.startswith("(1, 384)")
    assert loaded == "False False", "a question must not wait for torch"


def test_other_models_still_load_through_sentence_transformers(tmp_path):
    (tmp_path / "modules.json").write_text('[{"type": "sentence_transformers.models.Transformer"}]')
    (tmp_path / "config.json").write_text('{"model_type": "bert"}')
    assert not supports(tmp_path)  # no pooling, no weights: not for the fast path
