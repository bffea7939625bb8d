"""The engine on the real starter model through llama-cpp-python."""

from __future__ import annotations

import pytest

from assistant.core.base.errors import ChatTemplateError, ContextOverflowError, ModelError
from assistant.core.base.types import CancelToken, ChatRequest, ContextNotice, Done, TextChunk, Turn
from assistant.core.config.settings import DEFAULT_SYSTEM_PROMPT, GenerationSettings, ModelSettings
from assistant.core.engine.llama import ChatEngine
from tests.helpers.gguf_factory import write_tiny_gguf

SYSTEM = DEFAULT_SYSTEM_PROMPT


def ask(text: str, key: str | None = None, history: list[Turn] | None = None) -> ChatRequest:
    return ChatRequest(turns=[*(history or []), Turn("user", text)], system=SYSTEM, key=key)


def collect(chunks) -> tuple[list[str], Done, list[ContextNotice]]:
    texts, notices, done = [], [], None
    for c in chunks:
        if isinstance(c, TextChunk):
            assert done is None
            texts.append(c.text)
        elif isinstance(c, ContextNotice):
            assert not texts
            notices.append(c)
        else:
            done = c
    assert done is not None
    return texts, done, notices


def test_answers_with_streaming_and_stats(engine, greedy):
    engine.llm.reset()  # evaluate from scratch: greedy output then matches a fresh process
    texts, done, _ = collect(engine.stream(ask("What is the capital of France?"), greedy))
    assert len(texts) > 1, "answer should arrive in several chunks"
    assert "".join(texts) == done.text
    assert "Paris" in done.text
    s = done.stats
    assert s.prompt_tokens > 10 and s.generated_tokens >= len(texts)
    assert s.ttft_s > 0 and s.tokens_per_s > 0 and s.total_s >= s.ttft_s
    assert done.finish_reason == "stop"
    r = done.prompt
    assert r.total_tokens == s.prompt_tokens and r.kept_messages == 1
    assert r.system_tokens > 10 and 5 < r.message_tokens < 12 and r.template_tokens > 0
    assert r.history_tokens == 0 and r.dropped_ids == ()
    parts = r.system_tokens + r.message_tokens + r.template_tokens + r.history_tokens
    assert parts == r.total_tokens


def test_cancel_takes_effect_within_one_token(engine):
    cancel = CancelToken()
    seen = []
    params = GenerationSettings(temperature=0.8, seed=1, max_tokens=400)
    for c in engine.stream(ask("Write a long story about a dragon."), params, cancel):
        if isinstance(c, TextChunk):
            seen.append(c.text)
            if len(seen) == 3:
                cancel.cancel()
        elif isinstance(c, Done):
            done = c
    assert len(seen) == 3
    assert done.finish_reason == "cancelled"
    assert done.stats.generated_tokens <= 4


def test_cancel_during_a_long_prompt(engine, greedy):
    import threading

    long_q = "Summarise: " + " ".join(f"sentence {i} about rivers." for i in range(220))
    cancel = CancelToken()
    engine.llm.reset()
    evals = []
    real_eval = engine.llm.eval

    def counting_eval(toks):
        evals.append(len(toks))
        if len(evals) == 2:
            threading.Thread(target=cancel.cancel).start()
            threading.Event().wait(0.05)
        return real_eval(toks)

    engine.llm.eval = counting_eval
    try:
        texts, done, _ = collect(engine.stream(ask(long_q), greedy, cancel))
    finally:
        del engine.llm.eval
    assert done.finish_reason == "cancelled" and texts == []
    assert done.stats.prompt_tokens > 1000
    assert len(evals) <= 3, "stopped within a slice of the prompt, not after all of it"


def test_prefill_while_typing_leaves_only_the_tail(engine, greedy):
    history = [Turn("user", "Hello there.", 1), Turn("assistant", "Hi! How can I help?", 2)]
    draft = "Please explain how rivers form deltas, in detail, with two examples from Africa."
    req = ask(draft, key="typing", history=history)
    engine.llm.reset()
    cached = engine.prefill(req)
    assert cached > 40
    _, done, _ = collect(engine.stream(req, greedy))
    assert done.stats.prompt_tokens - done.stats.cached_tokens <= 14


def test_cancel_before_start(engine, greedy):
    cancel = CancelToken()
    cancel.cancel()
    texts, done, _ = collect(engine.stream(ask("Hello"), greedy, cancel))
    assert texts == [] and done.finish_reason == "cancelled"


def test_max_tokens(engine):
    params = GenerationSettings(temperature=0.8, seed=3, max_tokens=5)
    _, done, _ = collect(engine.stream(ask("Tell me about the ocean in detail."), params))
    assert done.finish_reason == "length" and done.stats.generated_tokens == 5


def test_stop_strings_end_the_answer_and_are_not_shown(engine):
    req = ask("List three colors of the rainbow, one per line.")
    params = GenerationSettings(temperature=0.0, max_tokens=60)
    engine.llm.reset()  # full re-evaluation both times, so greedy output is identical
    _, full, _ = collect(engine.stream(req, params))
    words = full.text.split()
    assert len(words) >= 4, full.text
    stop = words[len(words) // 2]
    engine.llm.reset()
    texts, done, _ = collect(engine.stream(req, params.model_copy(update={"stop": [stop]})))
    assert done.finish_reason == "stop"
    assert done.text == full.text[: full.text.index(stop)]
    assert stop not in "".join(texts)


def test_kv_prefix_is_reused_between_turns(engine, greedy):
    _, first, _ = collect(engine.stream(ask("Name a fruit.", key="kv"), greedy))
    history = [Turn("user", "Name a fruit.", 1), Turn("assistant", first.text, 2)]
    _, second, _ = collect(engine.stream(ask("And a vegetable?", "kv", history), greedy))
    assert second.stats.cached_tokens >= first.stats.prompt_tokens - 2
    assert second.stats.prompt_tokens - second.stats.cached_tokens < 40


def test_switching_back_to_a_conversation_restores_its_state(engine, greedy):
    long_q = "Please remember these words: " + ", ".join(f"item{i}" for i in range(120))
    _, a1, _ = collect(engine.stream(ask(long_q, key="conv-a"), greedy))
    collect(engine.stream(ask("Something else entirely.", key="conv-b"), greedy))
    history = [Turn("user", long_q, 1), Turn("assistant", a1.text, 2)]
    _, a2, _ = collect(engine.stream(ask("Thanks.", "conv-a", history), greedy))
    assert a1.stats.prompt_tokens > 200
    assert a2.stats.cached_tokens >= a1.stats.prompt_tokens - 2


@pytest.fixture(scope="module")
def small_engine(starter_gguf):
    eng = ChatEngine(ModelSettings(n_ctx=512, n_threads=2), starter_gguf)
    yield eng
    eng.close()


def test_context_overflow_drops_oldest_turns_never_system(small_engine):
    turns: list[Turn] = []
    for i in range(30):
        turns.append(Turn("user", f"Fact number {i}: the sky had {i} clouds today.", 2 * i + 1))
        turns.append(Turn("assistant", f"Noted fact {i} about {i} clouds.", 2 * i + 2))
    params = GenerationSettings(temperature=0.0, max_tokens=32)
    req = ChatRequest(turns=[*turns, Turn("user", "How many clouds?", 99)], system=SYSTEM, key="ov")
    _, done, notices = collect(small_engine.stream(req, params))
    assert len(notices) == 1
    dropped = notices[0].dropped_ids
    assert dropped == tuple(range(1, len(dropped) + 1)), "oldest first, in order"
    assert done.stats.prompt_tokens <= 512 - 32
    assert done.stats.dropped_messages == len(dropped)
    assert done.prompt.dropped_ids == dropped and done.prompt.history_tokens > 100
    kept = req.turns[len(dropped) :]
    assert kept[0].role == "user"
    prompt = small_engine.render(req, kept)
    assert SYSTEM in prompt and "How many clouds?" in prompt

    # The next turn keeps the same cut, so the cached prefix is reused.
    more = [*req.turns, Turn("assistant", done.text, 100), Turn("user", "And yesterday?", 101)]
    req2 = ChatRequest(turns=more, system=SYSTEM, key="ov")
    _, done2, notices2 = collect(small_engine.stream(req2, params))
    assert notices2[0].dropped_ids == dropped
    assert done2.stats.cached_tokens > done.stats.prompt_tokens // 2


def test_message_too_long_for_context(small_engine):
    req = ask("word " * 2000)
    with pytest.raises(ContextOverflowError, match="too long") as e:
        list(small_engine.stream(req, GenerationSettings(max_tokens=32)))
    assert "\n" not in str(e.value) and "n_ctx" in str(e.value)


def test_hostile_template_in_gguf_never_executes(tmp_path):
    marker = tmp_path / "pwned"
    evil = "{{ cycler.__init__.__globals__.os.system('touch " + str(marker) + "') }}"
    path = write_tiny_gguf(tmp_path / "evil.gguf", chat_template=evil)
    with pytest.raises(ChatTemplateError, match="unsafe") as e:
        ChatEngine(ModelSettings(n_ctx=256, n_threads=1), path)
    assert "chatml" in str(e.value) and "\n" not in str(e.value)
    assert not marker.exists()
    # The user's way out: override the template; the model then loads and streams.
    eng = ChatEngine(ModelSettings(n_ctx=256, n_threads=1, chat_template="chatml"), path)
    try:
        _, done, _ = collect(eng.stream(ask("hi"), GenerationSettings(max_tokens=4)))
        assert done.stats.generated_tokens >= 1
    finally:
        eng.close()
    assert not marker.exists()


def test_unsupported_architecture(tmp_path):
    path = write_tiny_gguf(tmp_path / "alien.gguf", architecture="notarealarch")
    with pytest.raises(ModelError, match="architecture 'notarealarch' is not supported") as e:
        ChatEngine(ModelSettings(n_ctx=256), path)
    assert "\n" not in str(e.value)


def test_truncated_file_fails_before_llama_cpp(tmp_path, starter_gguf):
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(starter_gguf.read_bytes()[:50_000_000])
    with pytest.raises(ModelError, match="truncated"):
        ChatEngine(ModelSettings(), cut)


def test_sampling_defaults_follow_the_model(engine, tmp_path):
    # The starter model's card recommends a low temperature; unset values follow it.
    assert engine.recommended == {"temperature": 0.2, "top_p": 0.9}
    assert GenerationSettings().resolved(engine.recommended).temperature == 0.2
    assert GenerationSettings(temperature=1.0).resolved(engine.recommended).temperature == 1.0
    assert GenerationSettings().resolved({}).temperature == 0.7
    # A GGUF that carries its own recommendation is read too.
    path = write_tiny_gguf(tmp_path / "rec.gguf", extra={"general.sampling.temp": 0.5})
    eng = ChatEngine(ModelSettings(n_ctx=256, n_threads=1, chat_template="chatml"), path)
    try:
        assert eng.recommended == {"temperature": 0.5}
    finally:
        eng.close()


def test_a_models_own_settings_are_used_when_it_loads(starter_gguf, tmp_path, greedy):
    import shutil

    from assistant.core.config.settings import ModelOverrides

    other = tmp_path / "other.gguf"
    shutil.copyfile(starter_gguf, other)
    settings = ModelSettings(
        n_ctx=2048,
        n_threads=2,
        per_model={
            starter_gguf.name: ModelOverrides(n_ctx=768, n_threads=1, chat_template="chatml")
        },
    )
    eng = ChatEngine(settings, starter_gguf)
    try:
        d = eng.describe()
        assert (d.n_ctx, d.threads, d.chat_template) == (768, 1, "built-in chatml")
        texts, done, _ = collect(eng.stream(ask("What is the capital of France?"), greedy))
        assert "Paris" in "".join(texts) and done.finish_reason in ("stop", "length")
    finally:
        eng.close()
    eng = ChatEngine(settings, other)  # same weights, another file name: the shared values
    try:
        d = eng.describe()
        assert (d.n_ctx, d.threads) == (2048, 2) and d.chat_template != "built-in chatml"
    finally:
        eng.close()


def test_the_llama_build_leaves_out_the_crashing_amx_kernels():
    """llama.cpp's AMX matrix kernels crash in the first answer on Sapphire Rapids-class
    CPUs (ggml-org/llama.cpp#20824); packaging/build-llama.sh compiles them out."""
    import llama_cpp

    info = llama_cpp.llama_print_system_info().decode()
    assert "AMX_INT8 = 1" not in info, info


def test_loading_a_model_leaves_what_other_threads_print_alone(starter_gguf):
    """llama-cpp-python points the process's stdout and stderr at /dev/null while it
    loads a model; what other threads print meanwhile (the CLI's messages, the app's
    start-up report) must still arrive."""
    import subprocess
    import sys

    script = (
        "import threading, time\n"
        "from assistant.core.config.settings import ModelSettings\n"
        "from assistant.core.engine.llama import ChatEngine\n"
        "stop, n = threading.Event(), [0]\n"
        "def talk():\n"
        "    while not stop.is_set():\n"
        "        n[0] += 1\n"
        "        print('line', n[0], flush=True)\n"
        "        time.sleep(0.002)\n"
        "t = threading.Thread(target=talk)\n"
        "t.start()\n"
        f"engine = ChatEngine(ModelSettings(n_ctx=512, n_threads=1), {str(starter_gguf)!r})\n"
        "stop.set()\n"
        "t.join()\n"
        "engine.close()\n"
        "print('printed', n[0], flush=True)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    ).stdout.splitlines()
    printed = int(out[-1].split()[1])
    assert printed > 5 and len(out) - 1 == printed, f"{len(out) - 1} of {printed} lines arrived"
