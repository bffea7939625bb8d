"""Hotkey strings in settings: normalised, or refused with a reason."""

from __future__ import annotations

import json

import pytest

from assistant.core.base.errors import SettingsError
from assistant.core.base.paths import get_paths
from assistant.core.config.hotkey_spec import parse_hotkey
from assistant.core.config.settings import load_settings


@pytest.mark.parametrize(
    ("text", "shown", "key"),
    [
        ("ctrl+alt+space", "Ctrl+Alt+Space", "space"),
        ("Super + F9", "Super+F9", "F9"),
        ("F5", "F5", "F5"),
        ("Meta+Shift+a", "Shift+Super+A", "a"),
        ("Control+Alt+PageUp", "Ctrl+Alt+Prior", "Prior"),
    ],
)
def test_good_hotkeys_are_normalised(text, shown, key):
    hk = parse_hotkey(text)
    assert str(hk) == shown and hk.key == key


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("a", "needs a modifier"),
        ("Ctrl+Alt", "needs a key after the modifiers"),
        ("Hyper+a", "'Hyper' is not a modifier"),
        ("Ctrl+é", "'é' is not a key"),
        ("", "is empty"),
    ],
)
def test_bad_hotkeys_say_why(text, reason):
    with pytest.raises(ValueError, match=reason):
        parse_hotkey(text)


def test_a_bad_hotkey_in_settings_is_one_clear_message():
    paths = get_paths().ensure()
    paths.settings_file.write_text(json.dumps({"desktop": {"push_to_talk_hotkey": "Ctrl+Banana"}}))
    with pytest.raises(SettingsError) as e:
        load_settings(paths)
    assert "desktop.push_to_talk_hotkey" in str(e.value) and "'Banana' is not a key" in str(e.value)
    paths.settings_file.write_text(json.dumps({"desktop": {"push_to_talk_hotkey": ""}}))
    assert load_settings(paths).desktop.push_to_talk_hotkey is None
