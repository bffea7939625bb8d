"""Per-conversation KV cache states, so switching back to a conversation
does not re-evaluate its whole history.

Only sequence 0's KV cells and the token ids are kept (llama-cpp-python's own
``save_state`` also copies a logits buffer we never use, ~100 MB for a
49k-token vocabulary). Least recently used states go first past a byte cap.
"""

from __future__ import annotations

import ctypes
import logging
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import numpy as np

log = logging.getLogger(__name__)


@dataclass
class SavedState:
    tokens: np.ndarray
    data: Any  # ctypes byte array
    size: int


def longest_prefix(a: np.ndarray | list[int], b: list[int]) -> int:
    n = min(len(a), len(b))
    if n == 0:
        return 0
    x = np.asarray(a[:n], dtype=np.int64)
    y = np.asarray(b[:n], dtype=np.int64)
    diff = np.nonzero(x != y)[0]
    return int(diff[0]) if diff.size else n


def save(llm: Any) -> SavedState | None:
    import llama_cpp

    ctx = llm._ctx.ctx
    size = llama_cpp.llama_state_seq_get_size(ctx, 0)
    if size <= 0 or llm.n_tokens == 0:
        return None
    buf = (ctypes.c_uint8 * size)()
    written = llama_cpp.llama_state_seq_get_data(ctx, buf, size, 0)
    if written == 0:
        return None
    return SavedState(tokens=llm.input_ids[: llm.n_tokens].copy(), data=buf, size=written)


def restore(llm: Any, state: SavedState) -> bool:
    import llama_cpp

    llm._ctx.kv_cache_clear()
    ok = llama_cpp.llama_state_seq_set_data(llm._ctx.ctx, state.data, state.size, 0) > 0
    if not ok:
        llm.reset()
        return False
    n = len(state.tokens)
    llm.input_ids[:n] = state.tokens
    llm.n_tokens = n
    llm._requires_eval = True  # logits are not part of the state: re-run one token
    return True


class StateCache:
    def __init__(self, max_bytes: int = 1 << 30) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[str, SavedState] = OrderedDict()

    def __len__(self) -> int:
        return len(self._items)

    @property
    def bytes(self) -> int:
        return sum(s.size for s in self._items.values())

    def get(self, key: str) -> SavedState | None:
        item = self._items.get(key)
        if item is not None:
            self._items.move_to_end(key)
        return item

    def put(self, key: str, state: SavedState) -> None:
        self._items[key] = state
        self._items.move_to_end(key)
        while self.bytes > self.max_bytes and len(self._items) > 1:
            old, _ = self._items.popitem(last=False)
            log.debug("evicted KV state of %s", old)

    def pop(self, key: str) -> None:
        self._items.pop(key, None)
