"""The settings dialog's voice and desktop rows: a bad hotkey is refused with a
reason, good values come back as validated settings."""

from __future__ import annotations

from assistant.core.config.settings import Settings


def test_hotkeys_and_microphone_in_the_settings_dialog(qtbot):
    from assistant.ui.dialogs.settings_dialog import SettingsDialog

    dlg = SettingsDialog(Settings())
    qtbot.addWidget(dlg)
    assert dlg.mic.itemText(0) == "System default" and dlg.mic.currentData() is None
    assert dlg.quick_key.text() == "Ctrl+Alt+Space"

    dlg.quick_key.setText("Ctrl+Hyper+Q")
    dlg._accept()
    assert dlg.result_settings is None
    assert dlg.error.text().startswith("Quick prompt hotkey: 'Hyper' is not a modifier")
    dlg.quick_key.setText("Ctrl+Alt+V")  # the push-to-talk key
    dlg._accept()
    assert dlg.result_settings is None and "both Ctrl+Alt+V" in dlg.error.text()

    dlg.quick_key.setText("alt + shift + q")
    dlg.ptt_key.setText("")
    dlg.send_on_release.setChecked(True)
    dlg.close_to_tray.setChecked(False)
    dlg._accept()
    s = dlg.result_settings
    assert s is not None
    assert s.desktop.quick_prompt_hotkey == "Alt+Shift+Q"
    assert s.desktop.push_to_talk_hotkey is None
    assert s.voice.send_on_release and not s.desktop.close_to_tray


def test_a_saved_microphone_that_is_gone_stays_selected(qtbot):
    from assistant.ui.dialogs.settings_dialog import SettingsDialog

    s = Settings.model_validate({"voice": {"input_device": "USB headset"}})
    dlg = SettingsDialog(s)
    qtbot.addWidget(dlg)
    assert dlg.mic.currentData() == "USB headset" and "not found now" in dlg.mic.currentText()


def test_a_running_window_picks_up_settings_changed_from_the_cli(qtbot, make_window):
    import time

    from tests.conftest import run_cli

    w = make_window(show=False)
    changed: list = []
    w.live.changed.connect(lambda new, _old: changed.append(new))
    r = run_cli("settings", "set", "voice.send_on_release", "true")
    assert r.returncode == 0, r.stderr
    deadline = time.time() + 10
    while not w.settings.voice.send_on_release and time.time() < deadline:
        qtbot.wait(50)
    assert w.settings.voice.send_on_release and changed
    # A broken file on disk: said once, the window keeps what it has.
    w.services.paths.settings_file.write_text("{ not json")
    qtbot.waitUntil(lambda: "not valid JSON" in w.statusBar().currentMessage(), timeout=10_000)
    assert w.settings.voice.send_on_release


def test_context_threads_and_template_can_be_saved_for_one_model(qtbot):
    from assistant.ui.dialogs.settings_dialog import SettingsDialog

    s = Settings.model_validate(
        {"model": {"n_ctx": 4096, "per_model": {"big.gguf": {"n_ctx": 8192, "n_threads": 3}}}}
    )
    dlg = SettingsDialog(s, model_file="/models/big.gguf")
    qtbot.addWidget(dlg)
    # The loaded model's own values are shown, and the box says they are its own.
    assert (dlg.n_ctx.value(), dlg.threads.value()) == (8192, 3)
    assert dlg.own.isChecked() and dlg.own.text() == "Only for big.gguf"
    dlg.n_ctx.setValue(16384)
    dlg.template.setText("chatml")
    dlg._accept()
    new = dlg.result_settings
    assert new is not None and new.model.n_ctx == 4096  # the shared value is untouched
    own = new.model.per_model["big.gguf"]
    assert (own.n_ctx, own.n_threads, own.chat_template) == (16384, 3, "chatml")
    assert own.n_gpu_layers is None  # untouched: still follows model.n_gpu_layers

    # Unticked: the values become the shared ones and the model's own are dropped.
    dlg = SettingsDialog(new, model_file="/models/big.gguf")
    qtbot.addWidget(dlg)
    dlg.own.setChecked(False)
    dlg._accept()
    new = dlg.result_settings
    assert new is not None and new.model.per_model == {}
    assert (new.model.n_ctx, new.model.n_threads, new.model.chat_template) == (16384, 3, "chatml")

    # No model loaded (or a remote one): no per-model box.
    dlg = SettingsDialog(Settings())
    qtbot.addWidget(dlg)
    assert dlg.own.isHidden()


def test_a_running_window_reloads_when_its_models_own_settings_change(
    qtbot, make_window, starter_gguf
):
    from tests.conftest import run_cli

    w = make_window(show=False)
    qtbot.waitUntil(lambda: bool(w.model_info), timeout=60_000)
    assert w.model_info.n_ctx == 4096
    loads: list[str] = []
    w.engine.loading.connect(loads.append)
    # Another model's values: no reload.
    r = run_cli("models", "settings", "other.gguf", "--context", "1024")
    assert r.returncode == 0, r.stderr
    qtbot.waitUntil(lambda: "other.gguf" in w.settings.model.per_model, timeout=10_000)
    qtbot.wait(1500)
    assert not loads and w.model_info.n_ctx == 4096
    # The loaded model's: it reloads with them.
    r = run_cli("models", "settings", starter_gguf.name, "--context", "1024")
    assert r.returncode == 0, r.stderr
    qtbot.waitUntil(lambda: w.model_info is not None and w.model_info.n_ctx == 1024, timeout=60_000)
    assert "1 thread" not in w.status_line.model_label.text()
