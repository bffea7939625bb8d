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
    assert "quick_prompt_hotkey" in dlg.error.text() and "Hyper" in dlg.error.text()

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
