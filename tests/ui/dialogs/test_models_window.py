"""Get models, in the window: pick the entry, download it from a local stand-in
for the hub with progress, use it, and chat with it; cancel keeps a partial file."""

from __future__ import annotations

import time

import pytest

from tests.helpers.fake_hub import FakeHub

pytestmark = pytest.mark.timeout(300)
ENTRY = "qwen2.5-0.5b-instruct-q4_k_m"
HUB_PATH = "Qwen/Qwen2.5-0.5B-Instruct-GGUF/qwen2.5-0.5b-instruct-q4_k_m.gguf"


@pytest.fixture
def hub(monkeypatch, starter_gguf):
    with FakeHub() as h:
        h.cdn = True
        h.files[HUB_PATH] = starter_gguf.read_bytes()  # a real GGUF that loads here
        monkeypatch.setenv("HF_ENDPOINT", h.url)
        yield h


@pytest.fixture
def window(make_window):
    return make_window(generation={"max_tokens": 16})


def wait(qtbot, predicate, seconds: float, what: str) -> None:
    deadline = time.time() + seconds
    while not predicate():
        assert time.time() < deadline, what
        qtbot.wait(50)


def test_download_use_and_chat(qtbot, window, hub):

    w = window
    w.settings_actions.open_models_window()  # Settings → Get models…
    dlg = w.settings_actions.models_window
    qtbot.addWidget(dlg)
    wait(qtbot, lambda: dlg.rows, 30, "the hardware check (on a thread) and the list")
    assert dlg.hardware.text().startswith("This computer:")
    assert dlg.table.topLevelItemCount() >= 8
    dlg.select(ENTRY)
    assert dlg.current.entry.id == ENTRY and dlg.download_btn.isEnabled()
    assert not dlg.use_btn.isEnabled()
    values: list[int] = []
    dlg.bar.valueChanged.connect(values.append)
    dlg.download_btn.click()
    wait(qtbot, lambda: dlg._job is None, 60, "the download")
    assert dlg.status.text().startswith("Downloaded and verified"), dlg.status.text()
    assert values and max(values) == 1000, "progress was shown"
    assert dlg.use_btn.isEnabled() and dlg.download_btn.text() == "Downloaded"
    assert dlg.table.currentItem().text(0).endswith("(downloaded)")
    dlg.use_btn.click()
    assert w.settings.model.path.endswith("qwen2.5-0.5b-instruct-q4_k_m.gguf")
    wait(
        qtbot,
        lambda: w.model_info is not None and w.model_info.name == ENTRY,
        60,
        "the new model to load",
    )
    wait(qtbot, lambda: "is loaded" in dlg.status.text(), 10, "the dialog to say so")
    assert dlg.use_btn.text() == "In use" and not dlg.use_btn.isEnabled()
    w.submit("What is the capital of France?")
    wait(qtbot, lambda: w.streaming is None and w.conversation_id is not None, 60, "an answer")
    assert w.store.thread(w.conversation_id)[-1].content.strip()


def test_cancel_keeps_a_partial_download(qtbot, window, hub):

    window.settings_actions.open_models_window()
    dlg = window.settings_actions.models_window
    qtbot.addWidget(dlg)
    dlg.select(ENTRY)  # before the list is filled: it is selected once it is
    wait(qtbot, lambda: dlg.current is not None, 30, "the list")
    assert dlg.current.entry.id == ENTRY
    dlg.download_btn.click()
    dlg.cancel_download()
    wait(qtbot, lambda: dlg._job is None, 60, "the download to stop")
    assert "stopped" in dlg.status.text() and "resume" in dlg.status.text()
    part = window.services.paths.models_dir / "qwen2.5-0.5b-instruct-q4_k_m.gguf.part"
    assert (
        "will be resumed" in dlg.summary.text() and dlg.download_btn.text() == "Resume download"
    ) or not part.exists()
    assert not (window.services.paths.models_dir / "qwen2.5-0.5b-instruct-q4_k_m.gguf").exists()
