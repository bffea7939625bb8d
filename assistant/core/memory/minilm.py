"""A BERT sentence encoder in NumPy, for the moments when loading torch would keep the
user waiting: the first recall after a start, and every `assistant ask`.

sentence-transformers takes 10-20 s to import here; this reads the same
safetensors weights and tokenizer in well under a second and gives the same vectors
(cosine ≥ 0.9999 against sentence-transformers, tests/test_minilm.py). It handles the
models laid out like the bundled all-MiniLM-L6-v2: a BERT encoder, mean pooling,
normalisation. Anything else goes to sentence-transformers.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

_MODULES = [
    "sentence_transformers.models.Transformer",
    "sentence_transformers.models.Pooling",
    "sentence_transformers.models.Normalize",
]


def supports(folder: Path) -> bool:
    """A BERT with mean pooling and normalisation, in safetensors, with a fast tokenizer."""
    try:
        modules = [m["type"] for m in json.loads((folder / "modules.json").read_text())]
        config = json.loads((folder / "config.json").read_text())
        pooling = json.loads((folder / "1_Pooling" / "config.json").read_text())
    except (OSError, ValueError, KeyError, TypeError):
        return False
    return (
        modules == _MODULES
        and config.get("model_type") == "bert"
        and config.get("hidden_act") == "gelu"
        and config.get("position_embedding_type", "absolute") == "absolute"
        and pooling.get("pooling_mode_mean_tokens") is True
        and not any(
            v
            for k, v in pooling.items()
            if k.startswith("pooling_mode_") and "mean_tokens" not in k
        )
        and (folder / "model.safetensors").is_file()
        and (folder / "tokenizer.json").is_file()
    )


@dataclass(frozen=True)
class _Layer:
    qkv_w: np.ndarray  # (hidden, 3 * hidden): query, key and value in one product
    qkv_b: np.ndarray
    out_w: np.ndarray
    out_b: np.ndarray
    ln1: tuple[np.ndarray, np.ndarray]
    up_w: np.ndarray
    up_b: np.ndarray
    down_w: np.ndarray
    down_b: np.ndarray
    ln2: tuple[np.ndarray, np.ndarray]


class MiniLM:
    """Thread-safe after construction (no state changes in ``embed``)."""

    def __init__(self, folder: Path) -> None:
        from safetensors.numpy import load_file
        from scipy.special import erf
        from tokenizers import Tokenizer

        self._erf = erf
        config = json.loads((folder / "config.json").read_text())
        st_config = json.loads((folder / "sentence_bert_config.json").read_text())
        self.max_tokens = min(
            int(st_config.get("max_seq_length", 512)), int(config["max_position_embeddings"])
        )
        self.heads = int(config["num_attention_heads"])
        self.eps = float(config.get("layer_norm_eps", 1e-12))
        self.dimension = int(config["hidden_size"])
        w = {k.removeprefix("bert."): v for k, v in load_file(folder / "model.safetensors").items()}
        self.word = w["embeddings.word_embeddings.weight"]
        self.position = w["embeddings.position_embeddings.weight"]
        self.token_type = w["embeddings.token_type_embeddings.weight"][0]
        self.ln0 = (w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
        self.layers = []
        for i in range(int(config["num_hidden_layers"])):
            p = f"encoder.layer.{i}."
            att = p + "attention.self."
            self.layers.append(
                _Layer(
                    np.concatenate(
                        [w[att + n + ".weight"].T for n in ("query", "key", "value")], 1
                    ),
                    np.concatenate([w[att + n + ".bias"] for n in ("query", "key", "value")]),
                    w[p + "attention.output.dense.weight"].T.copy(),
                    w[p + "attention.output.dense.bias"],
                    (
                        w[p + "attention.output.LayerNorm.weight"],
                        w[p + "attention.output.LayerNorm.bias"],
                    ),
                    w[p + "intermediate.dense.weight"].T.copy(),
                    w[p + "intermediate.dense.bias"],
                    w[p + "output.dense.weight"].T.copy(),
                    w[p + "output.dense.bias"],
                    (w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"]),
                )
            )
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(self.max_tokens)  # as sentence-transformers does

    def _norm(self, x: np.ndarray, ln: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
        mean = x.mean(-1, keepdims=True)
        var = ((x - mean) ** 2).mean(-1, keepdims=True)
        return (x - mean) / np.sqrt(var + self.eps) * ln[0] + ln[1]

    def _encode(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """(batch, tokens) ids and 0/1 mask → (batch, hidden) mean-pooled states."""
        b, n = ids.shape
        h = self.word[ids] + self.position[:n] + self.token_type
        h = self._norm(h, self.ln0)
        d = self.dimension // self.heads
        bias = (1.0 - mask[:, None, None, :]) * np.float32(-1e9)  # padding gets no attention
        for layer in self.layers:
            qkv = h @ layer.qkv_w + layer.qkv_b
            q, k, v = (qkv[..., i * self.dimension : (i + 1) * self.dimension] for i in range(3))
            q, k, v = (t.reshape(b, n, self.heads, d).transpose(0, 2, 1, 3) for t in (q, k, v))
            scores = q @ k.transpose(0, 1, 3, 2) / np.float32(np.sqrt(d)) + bias
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            scores /= scores.sum(-1, keepdims=True)
            ctx = (scores @ v).transpose(0, 2, 1, 3).reshape(b, n, self.dimension)
            h = self._norm(h + ctx @ layer.out_w + layer.out_b, layer.ln1)
            up = h @ layer.up_w + layer.up_b
            up = 0.5 * up * (1.0 + self._erf(up / np.float32(np.sqrt(2.0))))  # exact GELU
            h = self._norm(h + up @ layer.down_w + layer.down_b, layer.ln2)
        m = mask[..., None]
        return (h * m).sum(1) / np.maximum(m.sum(1), 1e-9)

    def embed(self, texts: list[str], batch_size: int = 16) -> np.ndarray:
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        encodings = self.tokenizer.encode_batch(texts)
        # Similar lengths together: padding costs time, never changes a vector.
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            n = max(len(encodings[i].ids) for i in rows)
            ids = np.zeros((len(rows), n), dtype=np.int64)
            mask = np.zeros((len(rows), n), dtype=np.float32)
            for r, i in enumerate(rows):
                e = encodings[i].ids
                ids[r, : len(e)] = e
                mask[r, : len(e)] = 1.0
            pooled = self._encode(ids, mask)
            pooled /= np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
            out[rows] = pooled
        return out
