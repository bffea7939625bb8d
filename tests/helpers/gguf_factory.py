"""Tiny GGUF models written with the `gguf` package, for bad-input tests.

A 2-layer llama with a byte-level SPM vocabulary: loads in milliseconds,
generates noise, and lets a test set any architecture or chat template.
"""

from __future__ import annotations

from pathlib import Path

import gguf
import numpy as np

N_EMBD, N_FF, N_HEAD, N_LAYER = 32, 64, 4, 2


def _vocab() -> tuple[list[bytes], list[float], list[int]]:
    tokens = [b"<unk>", b"<s>", b"</s>", b"<|im_start|>", b"<|im_end|>"]
    types = [2, 3, 3, 3, 3]  # unknown, control x4
    for i in range(256):
        tokens.append(f"<0x{i:02X}>".encode())
        types.append(6)  # byte
    for word in ["\u2581", "\u2581hello", "\u2581world", "\u2581the", "\u2581a", "e", "t", "a"]:
        tokens.append(word.encode())
        types.append(1)
    scores = [0.0] * len(tokens)
    return tokens, scores, types


def write_tiny_gguf(
    path: Path,
    architecture: str = "llama",
    chat_template: str | None = None,
    extra: dict[str, float] | None = None,
) -> Path:
    tokens, scores, types = _vocab()
    w = gguf.GGUFWriter(str(path), architecture)
    w.add_name(f"tiny-{architecture}")
    w.add_context_length(512)
    w.add_embedding_length(N_EMBD)
    w.add_block_count(N_LAYER)
    w.add_feed_forward_length(N_FF)
    w.add_head_count(N_HEAD)
    w.add_head_count_kv(N_HEAD)
    w.add_rope_dimension_count(N_EMBD // N_HEAD)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_file_type(gguf.LlamaFileType.ALL_F32)
    w.add_tokenizer_model("llama")
    w.add_token_list(tokens)
    w.add_token_scores(scores)
    w.add_token_types(types)
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_unk_token_id(0)
    for key, value in (extra or {}).items():
        w.add_float32(key, value)
    if chat_template is not None:
        w.add_chat_template(chat_template)
    rng = np.random.default_rng(0)

    def rnd(*shape: int) -> np.ndarray:
        return (rng.standard_normal(shape, dtype=np.float32) * 0.02).astype(np.float32)

    n_vocab = len(tokens)
    w.add_tensor("token_embd.weight", rnd(n_vocab, N_EMBD))
    for i in range(N_LAYER):
        p = f"blk.{i}."
        w.add_tensor(p + "attn_norm.weight", np.ones(N_EMBD, np.float32))
        for name in ("attn_q", "attn_k", "attn_v", "attn_output"):
            w.add_tensor(p + name + ".weight", rnd(N_EMBD, N_EMBD))
        w.add_tensor(p + "ffn_norm.weight", np.ones(N_EMBD, np.float32))
        w.add_tensor(p + "ffn_gate.weight", rnd(N_FF, N_EMBD))
        w.add_tensor(p + "ffn_up.weight", rnd(N_FF, N_EMBD))
        w.add_tensor(p + "ffn_down.weight", rnd(N_EMBD, N_FF))
    w.add_tensor("output_norm.weight", np.ones(N_EMBD, np.float32))
    w.add_tensor("output.weight", rnd(n_vocab, N_EMBD))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path
