"""The local OpenAI-compatible API, on 127.0.0.1 with a bearer token, driven by the
official `openai` client: the real starter model, the real embedder, a real server."""

from __future__ import annotations

import json
import threading

import httpx
import numpy as np
import openai
import pytest

from assistant.core.config.settings import DEFAULT_SYSTEM_PROMPT, GenerationSettings
from tests.conftest import free_port

pytestmark = pytest.mark.timeout(300)
TOKEN = "sk-local-test-token"
SYSTEM = {"role": "system", "content": DEFAULT_SYSTEM_PROMPT}
CAPITALS = {"France": "Paris", "Italy": "Rome", "Japan": "Tokyo", "England": "London"}


@pytest.fixture(scope="module")
def served(starter_gguf, tmp_path_factory):
    from assistant.core.api.server import ApiApp, ApiServer
    from assistant.core.config.settings import ModelSettings
    from assistant.core.engine.llama import ChatEngine
    from assistant.core.engine.runner import EngineRunner, ServedEngine
    from assistant.core.memory.embedder import Embedder

    # Loaded on the runner's thread, which alone uses it (as `assistant serve` does).
    runner = EngineRunner()
    settings = ModelSettings(n_ctx=2048, n_threads=2)
    engine = runner.call(lambda: ChatEngine(settings, starter_gguf)).result()
    embedder = Embedder(None, tmp_path_factory.mktemp("cache"))
    api = ApiApp(
        ServedEngine(runner, lambda: engine),
        token=lambda: TOKEN,
        defaults=lambda: GenerationSettings(temperature=0.0, seed=7, max_tokens=64),
        embedder=lambda: embedder,
    )
    server = ApiServer(api, 0)  # any free port
    server.start()
    yield server, engine, embedder
    server.stop()
    runner.call(engine.close)  # on its thread
    runner.close()


@pytest.fixture
def client(served):
    server, engine, _ = served
    return openai.OpenAI(base_url=server.base_url, api_key=TOKEN, max_retries=0), engine.name


def ask(country: str) -> list[dict]:
    return [SYSTEM, {"role": "user", "content": f"What is the capital of {country}?"}]


def test_models_chat_and_streaming_with_the_official_client(client):
    c, model = client
    ids = [m.id for m in c.models.list()]
    assert ids == [model, "all-MiniLM-L6-v2"]

    r = c.chat.completions.create(model=model, messages=ask("France"))
    assert "Paris" in r.choices[0].message.content
    assert r.choices[0].finish_reason == "stop" and r.object == "chat.completion"
    assert r.usage.prompt_tokens > 10 and 0 < r.usage.completion_tokens <= 64

    chunks = list(
        c.chat.completions.create(
            model=model,
            messages=ask("France"),
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    text = "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices)
    assert text == r.choices[0].message.content  # greedy: the same answer, streamed
    assert len({ch.id for ch in chunks}) == 1
    assert [ch.choices[0].finish_reason for ch in chunks if ch.choices][-1] == "stop"
    assert chunks[-1].usage.completion_tokens == r.usage.completion_tokens


def test_embeddings_are_the_memory_embedders(client, served):
    c, _ = client
    _, _, embedder = served
    texts = ["My sister lives in Lyon.", "Where does my sister live?", "Quarterly tax forms"]
    r = c.embeddings.create(model="all-MiniLM-L6-v2", input=texts)  # base64 on the wire
    got = np.array([d.embedding for d in r.data], dtype=np.float32)
    assert got.shape == (3, 384) and [d.index for d in r.data] == [0, 1, 2]
    assert np.allclose(got, embedder.embed(texts), atol=1e-5)
    assert got[0] @ got[1] > got[0] @ got[2]
    assert r.usage.prompt_tokens > 10
    one = c.embeddings.create(model="all-MiniLM-L6-v2", input="hello", encoding_format="float")
    assert len(one.data) == 1 and abs(np.linalg.norm(one.data[0].embedding) - 1) < 1e-4


def test_wrong_or_missing_token_is_refused(served, client):
    server, _, _ = served
    _, model = client
    bad = openai.OpenAI(base_url=server.base_url, api_key="sk-wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as e:
        bad.models.list()
    assert e.value.status_code == 401 and e.value.body["code"] == "invalid_api_key"
    with pytest.raises(openai.AuthenticationError):
        bad.chat.completions.create(model=model, messages=ask("France"))
    r = httpx.get(f"{server.base_url}/models")
    assert r.status_code == 401 and r.json()["error"]["type"] == "invalid_request_error"
    # A page in a browser reaching 127.0.0.1 under another name (DNS rebinding).
    r = httpx.get(f"{server.base_url}/models", headers=_auth() | {"Host": "evil.example"})
    assert r.status_code == 400


def _auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKEN}"}


def test_bad_requests_get_openai_shaped_4xx_and_the_server_stays_up(served, client):
    server, _, _ = served
    c, model = client
    url = f"{server.base_url}/chat/completions"

    def post(body: bytes | dict, **kw) -> httpx.Response:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        return httpx.post(url, content=data, headers=_auth(), timeout=60, **kw)

    r = post(b'{"model": "x", "messages": [')
    assert r.status_code == 400 and "not valid JSON" in r.json()["error"]["message"]
    with pytest.raises(openai.NotFoundError) as e:
        c.chat.completions.create(model="gpt-4o", messages=ask("France"))
    assert e.value.body["code"] == "model_not_found" and model in e.value.body["message"]
    r = post({"model": model, "messages": []})
    assert r.status_code == 400 and r.json()["error"]["param"] == "messages"
    r = post({"model": model, "messages": [{"role": "user", "content": "hi"}], "temperature": 9})
    assert r.status_code == 400 and r.json()["error"]["param"] == "temperature"
    r = post({"model": model, "messages": ask("France"), "tools": [{"type": "function"}]})
    assert r.status_code == 400 and "tools" in r.json()["error"]["message"]
    r = post(b"{" + b" " * (9 * 2**20) + b"}")
    assert r.status_code == 413
    with pytest.raises(openai.BadRequestError) as e:  # more than the 2048-token context
        c.chat.completions.create(
            model=model, messages=[{"role": "user", "content": "word " * 3000}]
        )
    assert e.value.body["code"] == "context_length_exceeded"
    with pytest.raises(openai.BadRequestError) as e:  # fits, but not with that many to generate
        c.chat.completions.create(model=model, messages=ask("France"), max_tokens=4000)
    assert e.value.body["code"] == "context_length_exceeded"
    r = httpx.get(f"{server.base_url}/nothing", headers=_auth())
    assert r.status_code == 404 and "/v1/nothing" in r.json()["error"]["message"]
    r = post(b'[{"role": "user", "content": "hi"}]')
    assert r.status_code == 400 and "JSON object" in r.json()["error"]["message"]
    r = post({"model": model, "messages": [{"role": "user", "content": None}]})
    assert r.status_code == 400 and r.json()["error"]["param"] == "messages.0"
    r = post(
        {"model": model, "messages": ask("France"), "response_format": {"type": "json_object"}}
    )
    assert r.status_code == 400 and r.json()["error"]["param"] == "response_format"
    assert c.models.retrieve(model).id == model
    with pytest.raises(openai.NotFoundError):
        c.models.retrieve("gpt-4o")
    r = c.chat.completions.create(model=model, messages=ask("France"))
    assert "Paris" in r.choices[0].message.content  # still serving


def test_a_client_that_disconnects_frees_the_engine(served, client):
    server, _, _ = served
    c, model = client
    body = {
        "model": model,
        "stream": True,
        "max_tokens": 1500,
        "temperature": 0.8,
        "messages": [
            SYSTEM,
            {"role": "user", "content": "Write a very long story about a dragon and a knight."},
        ],
    }
    api = server.api
    with httpx.stream(
        "POST", f"{server.base_url}/chat/completions", json=body, headers=_auth(), timeout=60
    ) as r:
        assert r.status_code == 200
        lines = r.iter_lines()
        events = [next(lines) for _ in range(8)]  # role, then a few tokens (and blank lines)
        cid = json.loads(events[0].removeprefix("data: "))["id"]
    # The connection is closed: the engine stops within a token or two and serves the next.
    after = c.chat.completions.create(model=model, messages=ask("Italy"))
    assert "Rome" in after.choices[0].message.content
    finished = dict(api.finished)
    assert finished[cid].finish_reason == "cancelled"
    assert finished[cid].stats.generated_tokens < 200
    order = [k for k, _ in api.finished]
    assert order.index(cid) < order.index(after.id)
    assert not api.active


def test_several_clients_at_once_get_their_own_answers(client):
    c, model = client
    answers: dict[str, str] = {}
    errors: list[BaseException] = []

    def one(country: str, stream: bool) -> None:
        try:
            if stream:
                parts = c.chat.completions.create(model=model, messages=ask(country), stream=True)
                answers[country] = "".join(p.choices[0].delta.content or "" for p in parts)
            else:
                r = c.chat.completions.create(model=model, messages=ask(country))
                answers[country] = r.choices[0].message.content
        except BaseException as e:
            errors.append(e)

    threads = [
        threading.Thread(target=one, args=(country, i % 2 == 0))
        for i, country in enumerate(CAPITALS)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    assert not any(t.is_alive() for t in threads), "a client never got its answer"
    for country, city in CAPITALS.items():
        text = answers[country]
        assert city in text, (country, text)
        others = [o for o in CAPITALS.values() if o != city]
        assert not any(o in text for o in others), (country, text)  # nothing interleaved


def test_assistant_serve_prints_url_and_token_and_the_client_chats(assistant_home, tmp_path):
    import os
    import signal
    import subprocess
    import sys

    from tests.conftest import ROOT, run_cli

    port = free_port()
    err = (tmp_path / "serve.err").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "assistant", "serve", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=err,
        text=True,
        cwd=ROOT,
        env={**os.environ, "ASSISTANT_API_TOKEN": ""},
    )
    try:
        lines = [proc.stdout.readline() for _ in range(4)]
        assert lines[0].strip() == f"OpenAI-compatible API: http://127.0.0.1:{port}/v1", lines
        token = lines[1].split(": ", 1)[1].strip()
        assert token.startswith("sk-local-") and len(token) > 40
        saved = assistant_home / "config" / "api-token"
        assert saved.read_text().strip() == token and saved.stat().st_mode & 0o077 == 0
        c = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key=token, max_retries=0)
        model = c.models.list().data[0].id
        r = c.chat.completions.create(model=model, messages=ask("France"), temperature=0)
        assert "Paris" in r.choices[0].message.content
        # The port is taken now: a second server says so in one line.
        second = run_cli("serve", "--port", str(port), timeout=120)
        assert second.returncode == 1 and f"127.0.0.1:{port}" in second.stderr
        assert "Traceback" not in second.stderr
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        err.close()
    # ASSISTANT_API_TOKEN sets the token for scripted use; a new saved one does not win.
    err = tmp_path / "serve2.err"
    proc = subprocess.Popen(
        [sys.executable, "-m", "assistant", "serve", "--port", str(port), "--new-token"],
        stdout=subprocess.PIPE,
        stderr=err.open("w"),
        text=True,
        cwd=ROOT,
        env={**os.environ, "ASSISTANT_API_TOKEN": "sk-my-script"},
    )
    try:
        lines = [proc.stdout.readline() for _ in range(2)]
        assert lines[1].strip() == "API key (from ASSISTANT_API_TOKEN): sk-my-script"
        r = httpx.get(
            f"http://127.0.0.1:{port}/v1/models", headers={"Authorization": f"Bearer {token}"}
        )
        assert r.status_code == 401
        assert "ASSISTANT_API_TOKEN is set and is the key in force" in err.read_text()
        assert saved.read_text().strip() != token  # a new one was saved for later
    finally:
        proc.terminate()
        proc.wait(30)


def test_too_many_waiting_requests_get_429(served, client):
    server, _, _ = served
    c, model = client
    api = server.api
    api.max_pending = 1
    story = [SYSTEM, {"role": "user", "content": "Write a very long story about a dragon."}]
    body = {"model": model, "stream": True, "max_tokens": 600, "messages": story}
    try:
        with httpx.stream(
            "POST", f"{server.base_url}/chat/completions", json=body, headers=_auth(), timeout=60
        ) as r:
            lines = r.iter_lines()  # kept: a dropped iterator closes the connection
            next(lines)
            with pytest.raises(openai.RateLimitError) as e:
                c.chat.completions.create(model=model, messages=ask("Italy"))
            assert e.value.body["code"] == "too_many_pending"
    finally:
        api.max_pending = 64
    assert (
        "Rome"
        in c.chat.completions.create(model=model, messages=ask("Italy")).choices[0].message.content
    )


def test_stopping_the_server_tells_a_streaming_client_why_its_answer_ends(served, client):
    from assistant.core.api.server import ApiApp, ApiServer

    server, _, _ = served
    _, model = client
    api = ApiApp(server.api.runner, token=lambda: TOKEN, defaults=GenerationSettings)
    other = ApiServer(api, 0)
    other.start()
    story = [SYSTEM, {"role": "user", "content": "Write a very long story about a dragon."}]
    body = {"model": model, "stream": True, "max_tokens": 1500, "messages": story}
    with httpx.stream(
        "POST", f"{other.base_url}/chat/completions", json=body, headers=_auth(), timeout=60
    ) as r:
        lines = r.iter_lines()
        for _ in range(6):
            next(lines)
        stopper = threading.Thread(target=other.stop)
        stopper.start()
        rest = [line for line in lines if line.startswith("data: ")]
        stopper.join(30)
    assert "[DONE]" not in rest[-1]
    assert json.loads(rest[-1].removeprefix("data: "))["error"]["message"].startswith(
        "The server is shutting down"
    )


def test_hostile_bodies_get_400_and_leave_no_traceback_in_the_log(served, client, caplog):
    server, _, _ = served
    _, model = client
    url = f"{server.base_url}/chat/completions"

    def post(data: bytes) -> httpx.Response:
        headers = {**_auth(), "Content-Type": "application/json"}
        return httpx.post(url, content=data, headers=headers, timeout=60)

    caplog.set_level("DEBUG")
    deep = b"[" * 50_000 + b"]" * 50_000
    r = post(deep)
    assert r.status_code == 400 and "nested too deeply" in r.json()["error"]["message"]
    inner = (
        b'{"model": "%s", "messages": [{"role": "user", "content": "hi"}], "x": ' % model.encode()
    )
    r = post(inner + b"[" * 200 + b"]" * 200 + b"}")
    assert r.status_code == 400 and "nested too deeply" in r.json()["error"]["message"]
    lone = b'{"model": "%s", "messages": [{"role": "user", "content": "hi \\ud800 there"}]}'
    r = post(lone % model.encode())
    assert r.status_code == 400 and "surrogate" in r.json()["error"]["message"]
    key = b'{"model": "%s", "messages": [{"role": "user", "content": "hi", "\\udfff": 1}]}'
    assert post(key % model.encode()).status_code == 400
    assert not [rec for rec in caplog.records if rec.exc_info], "a client error logged a traceback"
    ok = post(json.dumps({"model": model, "messages": ask("France")}).encode())
    assert ok.status_code == 200 and "Paris" in ok.json()["choices"][0]["message"]["content"]
