"""The chat engine: one loaded model and the one streaming interface.

``ChatEngine.stream(request, params, cancel)`` yields ``TextChunk``s as tokens
arrive, at most one ``ContextNotice`` before them, and a final ``Done`` with
stats. The engine is stateful (KV cache), so it belongs to one thread; the
CLI, window, tray and API server all consume this same generator.
"""

from __future__ import annotations

import codecs
import logging
import os
import random
import time
from collections.abc import Iterator
from pathlib import Path

from assistant.core.base.cpu_threads import ThreadGovernor
from assistant.core.base.errors import AssistantError, ModelError
from assistant.core.base.types import (
    CancelToken,
    ChatRequest,
    Chunk,
    ContextNotice,
    Done,
    FinishReason,
    GenerationStats,
    ModelInfo,
    PromptReport,
    TextChunk,
    Turn,
)
from assistant.core.config.settings import GenerationSettings, ModelSettings
from assistant.core.engine import gguf_file, kv_state
from assistant.core.engine.context import choose_cut
from assistant.core.engine.gpu_offload import load_offloaded
from assistant.core.engine.llama_runtime import load_llama
from assistant.core.engine.model_path import resolve_model_path
from assistant.core.engine.protocol import Engine
from assistant.core.engine.sampling import recommended_sampling
from assistant.core.engine.stops import StopMatcher
from assistant.core.templates import chat_template

log = logging.getLogger(__name__)

# Prompt tokens evaluated between checks of the cancel flag (~0.75 s here for the
# 135M model on 2 cores; large enough that batching stays efficient).
PROMPT_SLICE = 128
# Tokens at the end of a draft left unevaluated by prefill(): its last word and the
# template's generation prompt may still change.
PREFILL_HOLDBACK = 12


def default_threads() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1)


class ChatEngine:
    def __init__(self, settings: ModelSettings | None = None, path: str | Path | None = None):
        settings = settings or ModelSettings()
        self.path = resolve_model_path(path if path is not None else settings.path)
        self.settings = settings.for_file(self.path)  # this model's own context, threads…
        self.info = gguf_file.inspect(self.path)
        self.n_threads = self.settings.n_threads or default_threads()
        # Threads set by the user stay as set; the default follows what other programs leave.
        self._governor = (
            ThreadGovernor(self.n_threads, watch=True) if not self.settings.n_threads else None
        )
        self.llm, self.offload = load_offloaded(
            self.info,
            self.settings.n_gpu_layers,
            lambda layers: load_llama(
                self.info,
                n_ctx=self.settings.n_ctx,
                n_threads=self.n_threads,
                n_batch=self.settings.n_batch,
                n_gpu_layers=layers,
            ),
        )
        self.n_ctx = self.llm.n_ctx()
        vocab = self.llm._model.vocab
        import llama_cpp

        self._is_eog = lambda tok: llama_cpp.llama_vocab_is_eog(vocab, tok)
        self._bos = self.llm.token_bos()
        self._add_bos = bool(llama_cpp.llama_vocab_get_add_bos(vocab))
        self.template = chat_template.resolve(
            self.settings.chat_template,
            self.info.chat_template,
            bos=self._token_text(self.llm.token_bos()),
            eos=self._token_text(self.llm.token_eos()),
        )
        # Fail at load, not mid-chat, when the template is broken or hostile.
        self.template.render([{"role": "user", "content": "hi"}])
        self.name = self.path.stem  # file names carry the quantization; general.name often not
        self.recommended = recommended_sampling(self.info)
        self._states = kv_state.StateCache()
        self._active_key: str | None = None
        self._cuts: dict[str, int | None] = {}  # conversation key -> first kept message id
        self._token_counts: dict[str, int] = {}  # message text -> tokens, for reports
        log.info(
            "loaded %s (%s, n_ctx=%d, threads=%d)",
            self.name,
            self.info.quantization,
            self.n_ctx,
            self.n_threads,
        )

    # -- helpers ---------------------------------------------------------

    def _token_text(self, tok: int) -> str:
        if tok < 0:
            return ""
        return self.llm.detokenize([tok], special=True).decode("utf-8", "replace")

    def tokenize(self, text: str) -> list[int]:
        toks = self.llm.tokenize(text.encode("utf-8"), add_bos=self._add_bos, special=True)
        if len(toks) > 1 and toks[0] == toks[1] == self._bos:  # template also wrote BOS
            toks = toks[1:]
        return toks

    def count_tokens(self, text: str) -> int:
        return len(self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=True))

    def prompt_tokens(self, request: ChatRequest) -> int | None:
        return len(self.tokenize(self.render(request, request.turns)))

    def render(self, request: ChatRequest, turns: list[Turn]) -> str:
        msgs: list[dict[str, str]] = []
        if request.system:
            msgs.append({"role": "system", "content": request.system})
        msgs += [{"role": t.role, "content": t.content} for t in turns]
        if request.context and msgs and msgs[-1]["role"] == "user":
            # Per-turn material rides with the newest message, after the history,
            # so the cached prefix stays reusable.
            msgs[-1] = {"role": "user", "content": f"{request.context}\n\n{msgs[-1]['content']}"}
        return self.template.render(msgs, add_generation_prompt=True)

    def _prepare(self, request: ChatRequest, params: GenerationSettings) -> tuple[list[int], int]:
        reserve = min(params.max_tokens, self.n_ctx // 2)
        budget = self.n_ctx - reserve
        turns = request.turns
        memo: dict[int, list[int]] = {}

        def count(cut: int) -> int:
            memo[cut] = self.tokenize(self.render(request, turns[cut:]))
            return len(memo[cut])

        sticky = 0
        kept_id = self._cuts.get(request.key or "")
        if kept_id is not None:
            sticky = next((i for i, t in enumerate(turns) if t.id == kept_id), 0)
        cut, _ = choose_cut(turns, count, budget, sticky)
        if request.key is not None:
            self._cuts[request.key] = turns[cut].id if cut else None
        return memo[cut], cut

    def _count_cached(self, text: str) -> int:
        n = self._token_counts.get(text)
        if n is None:
            n = self.count_tokens(text)
            if len(self._token_counts) > 4096:
                self._token_counts.clear()
            self._token_counts[text] = n
        return n

    def _report(self, request: ChatRequest, cut: int, total: int) -> PromptReport:
        kept = request.turns[cut:]
        system = self._count_cached(request.system) if request.system else 0
        context = self.count_tokens(request.context) if request.context else 0
        history = sum(self._count_cached(t.content) for t in kept[:-1])
        message = self._count_cached(kept[-1].content) if kept else 0
        return PromptReport(
            n_ctx=self.n_ctx,
            total_tokens=total,
            system_tokens=system,
            context_tokens=context,
            history_tokens=history,
            message_tokens=message,
            template_tokens=max(0, total - system - context - history - message),
            kept_messages=len(kept),
            dropped_ids=tuple(t.id for t in request.turns[:cut]),
        )

    def _adapt_threads(self) -> None:
        """Between tokens: fewer threads while other programs take cores, more after."""
        if self._governor is None:
            return
        n = self._governor.update()
        if n is not None:
            import llama_cpp

            llama_cpp.llama_set_n_threads(self.llm.ctx, n, n)
            self.n_threads = n

    def _eval_prompt(self, tokens: list[int], cancel: CancelToken) -> bool:
        """Evaluate the uncached prompt in slices, so Stop works during a long prompt.

        Leaves the last token to ``generate``, which then finds the rest cached.
        Returns False when cancelled.
        """
        llm = self.llm
        end = len(tokens) - 1
        done = kv_state.longest_prefix(llm.input_ids[: llm.n_tokens], tokens)
        if done >= end:
            return True
        llm.n_tokens = done  # eval() drops the KV cells past this point
        for i in range(done, end, PROMPT_SLICE):
            if cancel.cancelled:
                return False
            self._adapt_threads()
            llm.eval(tokens[i : min(i + PROMPT_SLICE, end)])
        return True

    def _switch_to(self, key: str | None, tokens: list[int]) -> None:
        """Bring the conversation's KV state back if another one is loaded."""
        if key == self._active_key:
            return
        if self._active_key is not None:
            saved = kv_state.save(self.llm)
            if saved is not None:
                self._states.put(self._active_key, saved)
        self._active_key = key
        if key is None:
            return
        cached = self._states.get(key)
        if cached is None:
            return
        live = kv_state.longest_prefix(self.llm.input_ids[: self.llm.n_tokens], tokens)
        if kv_state.longest_prefix(cached.tokens, tokens) > live:
            kv_state.restore(self.llm, cached)

    def forget(self, key: str) -> None:
        """Drop cached state for a deleted conversation."""
        self._states.pop(key)
        self._cuts.pop(key, None)

    # -- the streaming interface -----------------------------------------

    def stream(
        self,
        request: ChatRequest,
        params: GenerationSettings | None = None,
        cancel: CancelToken | None = None,
    ) -> Iterator[Chunk]:
        params = (params or GenerationSettings()).resolved(self.recommended)
        cancel = cancel or CancelToken()
        t0 = time.perf_counter()
        tokens, cut = self._prepare(request, params)
        stats = GenerationStats(model=self.name, prompt_tokens=len(tokens), dropped_messages=cut)
        if cut:
            yield ContextNotice(tuple(t.id for t in request.turns[:cut]), len(tokens), self.n_ctx)
        self._switch_to(request.key, tokens)
        stats.cached_tokens = max(
            0, kv_state.longest_prefix(self.llm.input_ids[: self.llm.n_tokens], tokens) - 1
        )
        self.llm.set_seed(params.seed if params.seed is not None else random.randrange(2**31))

        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        stops = StopMatcher(params.stop)
        text_parts: list[str] = []
        finish: FinishReason = "length"
        t_first = t_last = 0.0
        gen = self.llm.generate(
            tokens,
            top_k=params.top_k,
            top_p=params.top_p,
            min_p=params.min_p,
            temp=params.temperature,
            repeat_penalty=params.repeat_penalty,
        )
        try:
            if not self._eval_prompt(tokens, cancel) or cancel.cancelled:
                finish = "cancelled"
            else:
                for tok in gen:
                    now = time.perf_counter()
                    if stats.generated_tokens == 0:
                        t_first = now
                        stats.ttft_s = now - t0
                    t_last = now
                    if self._is_eog(tok):
                        finish = "stop"
                        break
                    stats.generated_tokens += 1
                    piece = decoder.decode(self.llm.detokenize([tok]))
                    out, hit = stops.feed(piece)
                    if out:
                        text_parts.append(out)
                        yield TextChunk(out)
                    if hit:
                        finish = "stop"
                        break
                    if cancel.cancelled:
                        finish = "cancelled"
                        break
                    self._adapt_threads()
                    if stats.generated_tokens >= params.max_tokens:
                        break
                    if self.llm.n_tokens + 1 >= self.n_ctx:
                        break  # context window full
        finally:
            gen.close()
        # final=False: bytes of a character cut off by max_tokens are dropped, not shown as "�".
        tail = stops.flush(decoder.decode(b"", final=False)) if finish != "stop" else ""
        if tail:
            text_parts.append(tail)
            yield TextChunk(tail)
        stats.total_s = time.perf_counter() - t0
        if stats.generated_tokens > 1 and t_last > t_first:
            stats.tokens_per_s = (stats.generated_tokens - 1) / (t_last - t_first)
        answer = "".join(text_parts)
        yield Done(answer, finish, stats, self._report(request, cut, len(tokens)), stops.matched)
        if answer:
            self._prefill_next_turn(request, request.turns[cut:], answer)

    def _prefill_next_turn(self, request: ChatRequest, kept: list[Turn], answer: str) -> None:
        """Evaluate the template text that will open the next user turn.

        Runs after Done is delivered, while the user reads the answer, so the
        next question only pays for its own tokens.
        """
        marker = "\u2063\u2063"  # invisible separators: never in real text
        probe = [*kept, Turn("assistant", answer), Turn("user", marker)]
        try:
            text = self.render(ChatRequest(probe, request.system, request.key), probe)
        except Exception:  # a template that rejects the probe: skip the optimisation
            return
        head = text.split(marker, 1)[0]
        if head == text:
            return
        tokens = self.tokenize(head)
        live = self.llm.input_ids[: self.llm.n_tokens]
        same = kv_state.longest_prefix(live, tokens)
        if same < self.llm.n_tokens - 1 or same >= len(tokens) or len(tokens) >= self.n_ctx:
            return  # the cache does not hold this conversation as expected
        self.llm.n_tokens = same
        self.llm.eval(tokens[same:])

    def prefill(
        self,
        request: ChatRequest,
        params: GenerationSettings | None = None,
        cancel: CancelToken | None = None,
    ) -> int:
        """Speculatively evaluate a prompt whose last user turn is still being typed.

        Evaluates everything but the last few tokens (the draft's final word and the
        generation prompt may still change), so sending it later costs only those.
        Cancellable between slices; returns the number of prompt tokens now cached.
        """
        params = (params or GenerationSettings()).resolved(self.recommended)
        try:
            tokens, _ = self._prepare(request, params)
        except AssistantError:
            return 0  # too long: the real send will say so
        self._switch_to(request.key, tokens)
        head = tokens[:-PREFILL_HOLDBACK]
        if len(head) < 2:
            return 0
        self._eval_prompt(head, cancel or CancelToken())
        return kv_state.longest_prefix(self.llm.input_ids[: self.llm.n_tokens], tokens)

    def close(self) -> None:
        if self._governor is not None:
            self._governor.close()
        llm, self.llm = self.llm, None
        if llm is not None:
            llm.close()

    def describe(self) -> ModelInfo:
        return ModelInfo(
            name=self.name,
            path=str(self.path),
            architecture=self.info.architecture,
            quantization=self.info.quantization,
            n_ctx=self.n_ctx,
            n_ctx_train=self.info.context_length,
            threads=self.n_threads,
            gpu_layers=self.offload.used,
            offload_note=self.offload.note,
            chat_template=self.template.name,
            recommended=dict(self.recommended),
        )


def open_engine(settings: ModelSettings, path: str | Path | None = None) -> Engine:
    """Load a model (or connect to model.remote_url); failures are ModelErrors."""
    if settings.remote_url and path is None:
        from assistant.core.engine.remote import RemoteEngine

        return RemoteEngine(settings)
    try:
        return ChatEngine(settings, path)
    except ModelError:
        raise
    except MemoryError as e:
        raise ModelError("Not enough memory to load the model.", "Pick a smaller model.") from e
