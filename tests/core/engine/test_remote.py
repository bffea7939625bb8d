"""The remote engine against a real OpenAI-compatible server on 127.0.0.1:
llama-cpp-python's own server with the starter model and an API key."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import httpx
import pytest

from assistant.core.base.errors import ModelError
from assistant.core.base.types import CancelToken, ChatRequest, Done, TextChunk, Turn
from assistant.core.config.settings import DEFAULT_SYSTEM_PROMPT, GenerationSettings, ModelSettings
from tests.conftest import free_port, run_cli

pytestmark = pytest.mark.timeout(300)
KEY = "test-key-123"


@pytest.fixture(scope="module")
def server(starter_gguf, tmp_path_factory):
    log = tmp_path_factory.mktemp("server") / "server.log"
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            str(starter_gguf),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--n_ctx",
            "2048",
            "--n_threads",
            "2",
            "--api_key",
            KEY,
            "--chat_format",
            "chatml",
        ],
        stdout=subprocess.DEVNULL,
        stderr=log.open("w"),  # a file: a full pipe would stall the server
    )
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.time() + 60
    while True:
        try:
            if (
                httpx.get(f"{url}/models", headers={"Authorization": f"Bearer {KEY}"}).status_code
                == 200
            ):
                break
        except httpx.HTTPError:
            pass
        assert proc.poll() is None and time.time() < deadline, log.read_text()[-2000:]
        time.sleep(0.3)
    yield url
    proc.terminate()
    proc.wait(20)


def ask(text: str) -> ChatRequest:
    return ChatRequest([Turn("user", text, 1)], system=DEFAULT_SYSTEM_PROMPT)


def test_streams_an_answer_and_can_be_cancelled(server):
    from assistant.core.engine.remote import RemoteEngine

    eng = RemoteEngine(ModelSettings(remote_url=server, remote_api_key=KEY))
    assert eng.name == "SmolLM2-135M-Instruct.Q4_1"
    params = GenerationSettings(temperature=0.0, max_tokens=24, seed=1)
    chunks = list(eng.stream(ask("What is the capital of France?"), params))
    pieces = [c.text for c in chunks if isinstance(c, TextChunk)]
    done = chunks[-1]
    assert isinstance(done, Done) and len(pieces) > 2
    assert done.text == "".join(pieces) and "Paris" in done.text
    assert done.stats.generated_tokens == len(pieces)

    cancel = CancelToken()
    got = []
    for c in eng.stream(ask("Tell me a long story."), GenerationSettings(max_tokens=400), cancel):
        got.append(c)
        if isinstance(c, TextChunk) and len(got) == 3:
            cancel.cancel()
    assert isinstance(got[-1], Done) and got[-1].finish_reason == "cancelled"
    assert len(got) <= 6, "stopped within a token or two"
    again = list(eng.stream(ask("Say hi."), GenerationSettings(max_tokens=8)))
    assert isinstance(again[-1], Done) and again[-1].text, "the server is free again"
    eng.close()


def test_ask_through_the_remote_engine_from_the_cli(server, starter_gguf):
    r = run_cli("settings", "set", "model.remote_url", server)
    assert r.returncode == 0, r.stderr
    refused = run_cli("ask", "Hi", "--json")
    assert refused.returncode == 1 and "refused the API key (HTTP 401)" in refused.stderr
    r = run_cli(
        "ask",
        "What is the capital of France?",
        "--json",
        env={"ASSISTANT_REMOTE_API_KEY": KEY},
    )
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["model"] == "SmolLM2-135M-Instruct.Q4_1" and out["answer"].strip()
    shown = run_cli("history", "show", str(out["conversation_id"]))
    assert out["answer"].strip()[:20] in shown.stdout
    # The list says where answers come from; picking a local model goes back to local.
    listed = run_cli("models", "list")
    assert f"answers come from the server at {server}" in listed.stdout
    assert f"chat model: the server at {server}" in run_cli("doctor").stdout
    assert not [
        line for line in listed.stdout.splitlines() if line.startswith("* ") and ".gguf" in line
    ]
    r = run_cli("models", "import", str(starter_gguf), "--link", "--use")
    assert r.returncode == 0 and "model.remote_url" in r.stdout and "was cleared" in r.stdout
    assert json.loads(run_cli("settings", "show").stdout)["model"]["remote_url"] is None


def test_an_unreachable_server_is_one_clear_error():
    from assistant.core.engine.remote import RemoteEngine

    port = free_port()
    with pytest.raises(ModelError, match="Cannot reach the model server"):
        RemoteEngine(ModelSettings(remote_url=f"http://127.0.0.1:{port}/v1"))
