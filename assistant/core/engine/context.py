"""Context budgeting: which history fits into the model's window.

The oldest turns go first, never the system prompt nor the newest message.
Cuts are sticky and overshoot to 75 % of the budget, so that the kept prefix
stays the same for several turns and the KV cache keeps being reused instead
of being invalidated by a one-turn shift every time.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from assistant.core.base.errors import ContextOverflowError
from assistant.core.base.types import Turn

REFILL = 0.75  # after a cut, history fills at most this share of the budget


def choose_cut(
    turns: Sequence[Turn], count: Callable[[int], int], budget: int, sticky: int = 0
) -> tuple[int, int]:
    """Return ``(cut, tokens)``: keep ``turns[cut:]``, which render to ``tokens``.

    ``count(cut)`` gives the prompt size when keeping ``turns[cut:]``;
    ``sticky`` is the cut used last time for this conversation.
    """
    if not turns:
        return 0, count(0)
    last = len(turns) - 1
    cut = sticky if 0 <= sticky <= last else 0
    if cut and turns[cut].role != "user":
        cut = 0
    n = count(cut)
    if n <= budget:
        return cut, n
    target = int(budget * REFILL)
    while cut < last:
        cut += 1
        while cut < last and turns[cut].role != "user":
            cut += 1
        n = count(cut)
        if n <= target:
            return cut, n
    if n <= budget:
        return cut, n
    raise ContextOverflowError(
        f"The message is too long for the context window ({n} tokens, room for {budget}).",
        "Shorten it, or raise the context length: model.n_ctx in settings, or "
        "`assistant models settings FILE --context N` for this model alone.",
    )
