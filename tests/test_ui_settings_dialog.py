"""The settings dialog's voice and desktop rows: a bad hotkey is refused with a
reason, good values come back as validated settings."""

from __future__ import annotations

from assistant.core.settings import Settings


def test_hotkeys_and_microphone_in_the_settings_dialog(qtbot):
    from assistant.ui.dialogs import SettingsDialog

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
    from assistant.ui.dialogs import SettingsDialog

    s = Settings.model_validate({"voice": {"input_device": "USB headset"}})
    dlg = SettingsDialog(s)
    qtbot.addWidget(dlg)
    assert dlg.mic.currentData() == "USB headset" and "not found now" in dlg.mic.currentText()


def test_a_running_window_picks_up_settings_changed_from_the_cli(qtbot, assistant_home):
    import time

    from assistant.ui.app import create_window
    from tests.conftest import run_cli

    w = create_window(None)
    qtbot.addWidget(w)
    try:
        changed: list = []
        w.settings_changed.connect(changed.append)
        r = run_cli("settings", "set", "voice.send_on_release", "true")
        assert r.returncode == 0, r.stderr
        deadline = time.time() + 10
        while not w.settings.voice.send_on_release and time.time() < deadline:
            qtbot.wait(50)
        assert w.settings.voice.send_on_release and changed
        # A broken file on disk: said once, the window keeps what it has.
        w.paths.settings_file.write_text("{ not json")
        qtbot.waitUntil(lambda: "not valid JSON" in w.statusBar().currentMessage(), timeout=10_000)
        assert w.settings.voice.send_on_release
    finally:
        w.close()
