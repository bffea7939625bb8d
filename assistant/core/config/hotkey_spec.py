"""Hotkey strings such as "Ctrl+Alt+Space": parsed and checked once, in the core,
so a typo in settings is one clear message instead of a hotkey that never fires."""

from __future__ import annotations

import re
from dataclasses import dataclass

MODIFIERS = {
    "ctrl": "ctrl",
    "control": "ctrl",
    "alt": "alt",
    "shift": "shift",
    "super": "super",
    "meta": "super",
    "win": "super",
    "cmd": "super",
}
# Named keys beyond letters, digits and F1-F24 (X11 keysym spellings).
NAMED_KEYS = {
    "space": "space",
    "enter": "Return",
    "return": "Return",
    "tab": "Tab",
    "escape": "Escape",
    "esc": "Escape",
    "backspace": "BackSpace",
    "insert": "Insert",
    "delete": "Delete",
    "home": "Home",
    "end": "End",
    "pageup": "Prior",
    "pagedown": "Next",
    "up": "Up",
    "down": "Down",
    "left": "Left",
    "right": "Right",
    "pause": "Pause",
    "print": "Print",
    "scrolllock": "Scroll_Lock",
}


@dataclass(frozen=True)
class Hotkey:
    modifiers: frozenset[str]  # of "ctrl", "alt", "shift", "super"
    key: str  # X11 keysym name: "space", "a", "F9"

    def __str__(self) -> str:
        order = ["ctrl", "alt", "shift", "super"]
        mods = [m.capitalize() for m in order if m in self.modifiers]
        key = self.key.upper() if len(self.key) == 1 else self.key.capitalize()
        return "+".join([*mods, key])


def parse_hotkey(text: str) -> Hotkey:
    """ "Ctrl+Alt+Space" -> Hotkey; ValueError with a reason for anything else."""
    parts = [p.strip() for p in re.split(r"\s*\+\s*", text.strip()) if p.strip()]
    if not parts:
        raise ValueError("is empty")
    *mods, key = parts
    modifiers = set()
    for m in mods:
        if m.lower() not in MODIFIERS:
            raise ValueError(f"'{m}' is not a modifier (use Ctrl, Alt, Shift or Super)")
        modifiers.add(MODIFIERS[m.lower()])
    low = key.lower()
    if low in MODIFIERS:
        raise ValueError("needs a key after the modifiers, e.g. Ctrl+Alt+Space")
    if len(key) == 1 and key.isascii() and key.isalnum():
        name = low
    elif re.fullmatch(r"f([1-9]|1\d|2[0-4])", low):
        name = low.upper()
    elif low in NAMED_KEYS:
        name = NAMED_KEYS[low]
    else:
        raise ValueError(f"'{key}' is not a key this app knows (try a letter, F1-F24 or Space)")
    if not modifiers and not name.startswith("F"):
        # A bare letter or Space grabbed system-wide would stop the user typing it.
        raise ValueError("needs a modifier (Ctrl, Alt, Shift or Super) unless it is F1-F24")
    return Hotkey(frozenset(modifiers), name)
