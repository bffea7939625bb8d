"""System-wide hotkeys: one opens the quick prompt, one is hold-to-talk.

X11 (and XWayland apps are not enough, see below): the key is grabbed on the
root window with python-xlib, so the X server reports a key another program
already holds (BadAccess) and we can say so. Windows and macOS: pynput's
listener. Wayland does not let programs grab keys at all; there the desktop's
own shortcut settings run `assistant quick` / `assistant ptt` (README).

Events arrive on a plain thread and reach Qt as signals. A held key repeats as
release+press pairs on X11; a release only counts when no press follows soon.
"""

from __future__ import annotations

import logging
import os
import select
import sys
import threading
import time
from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QGuiApplication

from assistant.core.config.hotkey_spec import Hotkey, parse_hotkey

log = logging.getLogger(__name__)

REPEAT_GAP_S = 0.12  # a press within this time after a release is key repeat
WAYLAND_HINT = (
    "Global hotkeys are not available on Wayland. Bind `assistant quick` and "
    "`assistant ptt` in your desktop's keyboard shortcut settings instead (see README)."
)


class GlobalHotkeys(QObject):
    """``pressed``/``released`` carry the binding's name ("quick_prompt", "push_to_talk")."""

    pressed = Signal(str)
    released = Signal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._backend: Any = None

    def register(self, bindings: dict[str, str | None]) -> list[str]:
        """(Re)bind; returns one-line problems (a key already taken, no support)."""
        self.close()
        wanted = {name: parse_hotkey(text) for name, text in bindings.items() if text}
        if not wanted:
            return []
        platform = QGuiApplication.platformName()
        if platform in ("offscreen", "minimal", "vnc"):
            return []
        if platform == "wayland" or os.environ.get("XDG_SESSION_TYPE") == "wayland":
            return [WAYLAND_HINT]
        try:
            if platform == "xcb":
                backend: Any = _X11Keys(wanted, self.pressed.emit, self.released.emit)
            elif sys.platform in ("win32", "darwin"):
                backend = _PynputKeys(wanted, self.pressed.emit, self.released.emit)
            else:
                return [f"Global hotkeys are not supported on the '{platform}' platform."]
        except Exception as e:  # a missing library or display: the app goes on without
            log.exception("global hotkeys unavailable")
            return [f"Global hotkeys are unavailable: {type(e).__name__}: {e}."]
        self._backend = backend
        return backend.problems

    @property
    def active(self) -> list[str]:
        return list(self._backend.active) if self._backend is not None else []

    def close(self) -> None:
        if self._backend is not None:
            self._backend.close()
            self._backend = None


class _Debounce:
    """Turns raw key-down/key-up (with X11 auto-repeat) into one press and one release."""

    def __init__(self, pressed, released) -> None:
        self._pressed, self._released = pressed, released
        self.down: set[str] = set()
        self.release_at: dict[str, float] = {}

    def key_down(self, name: str) -> None:
        if self.release_at.pop(name, None) is not None:
            return  # a repeat: still held
        if name not in self.down:
            self.down.add(name)
            self._pressed(name)

    def key_up(self, name: str) -> None:
        if name in self.down:
            self.release_at[name] = time.monotonic() + REPEAT_GAP_S

    def tick(self) -> None:
        now = time.monotonic()
        for name, at in list(self.release_at.items()):
            if now >= at:
                del self.release_at[name]
                self.down.discard(name)
                self._released(name)


class _X11Keys:
    def __init__(self, wanted: dict[str, Hotkey], pressed, released) -> None:
        from Xlib import XK, X, display, error

        self._X = X
        self.display = display.Display()  # $DISPLAY
        self.root = self.display.screen().root
        masks = {
            "ctrl": X.ControlMask,
            "alt": X.Mod1Mask,
            "shift": X.ShiftMask,
            "super": X.Mod4Mask,
        }
        # Caps Lock and Num Lock change the state bits; grab every combination.
        extras = (0, X.LockMask, X.Mod2Mask, X.LockMask | X.Mod2Mask)
        self.problems: list[str] = []
        self.active: list[str] = []
        self._keys: dict[tuple[int, int], str] = {}
        self._grabs: list[tuple[int, int]] = []
        for name, hk in wanted.items():
            code = self.display.keysym_to_keycode(XK.string_to_keysym(hk.key))
            if not code:
                self.problems.append(f"{hk}: this keyboard has no '{hk.key}' key.")
                continue
            mask = 0
            for m in hk.modifiers:
                mask |= masks[m]
            catch = error.CatchError(error.BadAccess)
            grabbed = []
            for extra in extras:
                self.root.grab_key(
                    code, mask | extra, True, X.GrabModeAsync, X.GrabModeAsync, catch
                )
                grabbed.append((code, mask | extra))
            self.display.sync()
            if catch.get_error():
                for c, m in grabbed:
                    self.root.ungrab_key(c, m)
                self.display.sync()
                label = "quick prompt" if name == "quick_prompt" else "push-to-talk"
                self.problems.append(
                    f"{hk} is already used by another program. Pick another {label} "
                    f"hotkey in Settings (Ctrl+,), or set desktop.{name}_hotkey."
                )
                continue
            self._grabs += grabbed
            self._keys[(code, mask)] = name
            self.active.append(name)
            log.info("global hotkey %s -> %s", hk, name)
        self._ignore = X.LockMask | X.Mod2Mask
        self._debounce = _Debounce(pressed, released)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="hotkeys", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        X, d = self._X, self.display
        try:
            while not self._stop.is_set():
                select.select([d.fileno()], [], [], 0.03)  # wake for events or the stop flag
                while d.pending_events():
                    ev = d.next_event()
                    if ev.type not in (X.KeyPress, X.KeyRelease):
                        continue
                    name = self._keys.get((ev.detail, ev.state & ~self._ignore & 0xFF))
                    if name is None and ev.type == X.KeyRelease:
                        # Let go of a modifier first: the state no longer matches; the key does.
                        name = next(
                            (n for (c, _m), n in self._keys.items() if c == ev.detail), None
                        )
                    if name is None:
                        continue
                    if ev.type == X.KeyPress:
                        self._debounce.key_down(name)
                    else:
                        self._debounce.key_up(name)
                self._debounce.tick()
        except Exception:  # the X server went away: nothing left to listen to
            log.exception("global hotkey listener stopped")

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        try:
            for code, mask in self._grabs:
                self.root.ungrab_key(code, mask)
            self.display.close()
        except Exception:
            log.debug("closing the X connection failed", exc_info=True)


class _PynputKeys:
    """Windows and macOS. pynput cannot tell whether another program owns a key."""

    def __init__(self, wanted: dict[str, Hotkey], pressed, released) -> None:
        from pynput import keyboard

        names = {"ctrl": "<ctrl>", "alt": "<alt>", "shift": "<shift>", "super": "<cmd>"}
        self._kb = keyboard
        self._combos: dict[str, set] = {}
        for name, hk in wanted.items():
            key = hk.key.lower() if len(hk.key) == 1 else f"<{hk.key.lower()}>"
            spec = "+".join([*(names[m] for m in sorted(hk.modifiers)), key])
            self._combos[name] = set(keyboard.HotKey.parse(spec))
        self.problems: list[str] = []
        self.active = list(self._combos)
        self._held: set = set()
        self._on: set[str] = set()
        self._pressed, self._released = pressed, released
        self._listener = keyboard.Listener(on_press=self._down, on_release=self._up)
        self._listener.start()

    def _key(self, key: Any) -> Any:
        return self._listener.canonical(key)

    def _down(self, key: Any) -> None:
        self._held.add(self._key(key))
        for name, combo in self._combos.items():
            if name not in self._on and combo <= self._held:
                self._on.add(name)
                self._pressed(name)

    def _up(self, key: Any) -> None:
        self._held.discard(self._key(key))
        for name, combo in self._combos.items():
            if name in self._on and not combo <= self._held:
                self._on.discard(name)
                self._released(name)

    def close(self) -> None:
        self._listener.stop()
