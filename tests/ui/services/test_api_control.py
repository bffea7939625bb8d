"""The API server inside the app: turned on by api.enabled (or the tray item),
served by the window's own engine thread, so API requests and the window's
answers queue instead of mixing."""

from __future__ import annotations

import socket
import threading
import time

import httpx
import openai
import pytest

from assistant.core.base.paths import get_paths
from assistant.core.config.settings import DEFAULT_SYSTEM_PROMPT
from tests.conftest import free_port

pytestmark = pytest.mark.timeout(300)


def wait(qtbot, predicate, seconds: float, what: str) -> None:
    deadline = time.time() + seconds
    while not predicate():
        assert time.time() < deadline, what
        qtbot.wait(50)


@pytest.fixture
def app_with_api(make_window, tmp_path):
    from PySide6.QtWidgets import QApplication

    from assistant.ui.app import create_desktop
    from assistant.ui.shell.single_instance import InstanceServer

    port = free_port()
    w = make_window(
        show=False,
        generation={"max_tokens": 32, "temperature": 0, "seed": 1},
        api={"enabled": True, "port": port},
    )
    server = InstanceServer(tmp_path / "instance.sock")
    assert server.claim() is None
    desktop = create_desktop(QApplication.instance(), w, server)
    yield w, desktop, port
    desktop.close()
    desktop.quick.close()


def test_the_app_serves_its_own_model_and_queues_with_the_window(qtbot, app_with_api):
    w, desktop, port = app_with_api
    assert desktop.api.running
    token = (get_paths().config_dir / "api-token").read_text().strip()
    url = f"http://127.0.0.1:{port}/v1"
    wait(qtbot, lambda: bool(w.model_info), 60, "the model to load")
    client = openai.OpenAI(base_url=url, api_key=token, max_retries=0, timeout=120)
    assert client.models.list().data[0].id == w.model_info.name

    got: dict[str, object] = {}

    def call() -> None:
        try:
            r = client.chat.completions.create(
                model=w.model_info.name,
                messages=[
                    {"role": "system", "content": DEFAULT_SYSTEM_PROMPT},
                    {"role": "user", "content": "What is the capital of France?"},
                ],
            )
            got["api"] = r.choices[0].message.content
        except BaseException as e:
            got["api"] = e

    t = threading.Thread(target=call)
    t.start()
    w.submit("What is the capital of Italy?")  # at the same time, in the window
    wait(qtbot, lambda: "api" in got and w.streaming is None, 120, "both answers")
    t.join(10)
    assert isinstance(got["api"], str) and "Paris" in got["api"], got["api"]
    thread = w.store.thread(w.conversation_id)
    assert "Rome" in thread[-1].content and "Paris" not in thread[-1].content
    # API requests are other programs' business: not in the user's history.
    texts = [m.content for c in w.store.list_conversations() for m in w.store.thread(c.id)]
    assert not any("France" in t for t in texts)

    # The Settings dialog shows the key; "New key" replaces it at once.
    from assistant.ui.dialogs.settings_dialog import SettingsDialog

    dlg = SettingsDialog(w.settings)
    qtbot.addWidget(dlg)
    assert dlg.api_token.text() == token and dlg.api_on.isChecked()
    assert dlg.api_port.value() == port
    dlg._new_token()
    assert dlg.api_token.text() != token
    with pytest.raises(openai.AuthenticationError):
        client.models.list()

    # The tray's item (or Settings) turns it off and on.
    desktop.toggle_api()
    assert not desktop.api.running and not w.settings.api.enabled
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/models")
    desktop.toggle_api()
    assert desktop.api.running
    r = httpx.get(f"{url}/models", headers={"Authorization": f"Bearer {dlg.api_token.text()}"})
    assert r.status_code == 200


def test_a_taken_port_is_a_banner_and_the_app_stays_up(qtbot, app_with_api):
    w, desktop, port = app_with_api
    desktop.api.stop()
    with socket.socket() as other:  # another program takes the port
        other.bind(("127.0.0.1", port))
        other.listen()
        desktop.apply_settings(w.settings)
        assert not desktop.api.running
        assert w.messages.banner_kind == "api" and f"127.0.0.1:{port}" in w.banner.text()
    w.submit("What is the capital of France?")
    wait(qtbot, lambda: w.streaming is None and w.conversation_id is not None, 120, "an answer")
