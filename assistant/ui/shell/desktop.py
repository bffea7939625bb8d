"""The app around the window: tray icon, quick prompt, global hotkeys and the
single-instance socket, all turning into the same few actions."""

from __future__ import annotations

import logging
from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QApplication, QWidget

from assistant.core.config.settings import Settings
from assistant.ui.quick.quick_prompt import QuickPrompt
from assistant.ui.services.api_control import ApiControl
from assistant.ui.services.engine_client import Answer
from assistant.ui.services.parts import AppServices
from assistant.ui.shell.global_hotkeys import GlobalHotkeys
from assistant.ui.shell.single_instance import InstanceServer
from assistant.ui.shell.tray import NO_TRAY, Tray

log = logging.getLogger(__name__)


class Desktop(QObject):
    """``window``: the main window (shown, hidden, closed at Quit); ``open_settings``
    opens its Settings dialog."""

    def __init__(
        self,
        app: QApplication,
        window: QWidget,
        quick: QuickPrompt,
        services: AppServices,
        server: InstanceServer,
        open_settings: Callable[[], None],
    ) -> None:
        super().__init__(window)
        self.app, self.window, self.server = app, window, server
        self._open_settings = open_settings
        self._live, self._messages = services.live, services.messages
        self.quitting = False
        self.quick = quick
        self.tray: Tray | None = None
        self.hotkeys = GlobalHotkeys(self)
        self.api = ApiControl(
            services.paths, services.engine, services.memory, services.live, services.messages, self
        )
        self.problems: list[str] = []
        self._told_tray = False

        server.received.connect(self.handle)
        self.hotkeys.pressed.connect(self._hotkey_down)
        self.hotkeys.released.connect(self._hotkey_up)
        self.quick.quit_app = self.quit
        self._live.changed.connect(lambda new, _old: self.apply_settings(new))
        services.ptt.state.connect(self._ptt_state)
        services.engine.answer_started.connect(self._answering)
        services.engine.answer_ended.connect(self._answered)
        self.apply_settings(self._live.current)

    # -- settings ------------------------------------------------------------------

    def apply_settings(self, settings: Settings) -> None:
        d = settings.desktop
        problems: list[str] = []
        if d.tray and self.tray is None:
            if Tray.available():
                self.tray = self._make_tray()
                self.tray.show()
            else:
                problems.append(NO_TRAY)
        elif not d.tray and self.tray is not None:
            self.tray.hide()
            self.tray.deleteLater()
            self.tray = None
        self.app.setQuitOnLastWindowClosed(self.tray is None)
        problems += self.hotkeys.register(
            {"quick_prompt": d.quick_prompt_hotkey, "push_to_talk": d.push_to_talk_hotkey}
        )
        self.api.apply(settings)
        if self.tray is not None:
            self.tray.set_api(self.api.running)
        said, self.problems = self.problems, problems
        for p in problems:
            if p not in said:
                log.warning("%s", p)
        # A taken hotkey needs the user to pick another: a banner. The rest (no
        # tray, Wayland) is how this desktop is: said once in the status bar.
        taken = [p for p in problems if "already used" in p]
        if taken:
            self._messages.show_banner("\n".join(taken), "desktop")
        else:
            self._messages.hide_banner("desktop")
        others = [p for p in problems if p not in taken and p not in said]  # once, not per save
        if others:
            self._messages.info(" ".join(others), 15000)

    def _make_tray(self) -> Tray:
        tray = Tray(self)
        tray.open_requested.connect(self.show_window)
        tray.quick_requested.connect(self.quick_prompt)
        tray.talk_requested.connect(self.toggle_talk)
        tray.settings_requested.connect(self.open_settings)
        tray.api_toggled.connect(self.toggle_api)
        tray.quit_requested.connect(self.quit)
        tray.notification_clicked.connect(self.notification_clicked)
        return tray

    # -- actions (tray menu, hotkeys, other starts) -------------------------------------

    def handle(self, message: dict) -> None:
        cmd = message.get("cmd")
        if cmd == "show":
            self.show_window()
        elif cmd == "quick":
            self.quick_prompt(str(message.get("text") or ""))
        elif cmd == "ptt":
            self.toggle_talk()
        elif cmd == "quit":
            self.quit()
        elif cmd != "ping":
            log.warning("unknown request %r", cmd)

    def show_window(self) -> None:
        w = self.window
        w.showNormal()
        w.raise_()
        w.activateWindow()

    def quick_prompt(self, text: str = "") -> None:
        self.quick.open(text)
        self._hint_without_tray()

    def _hint_without_tray(self) -> None:
        if self.tray is None and not self.window.isVisible() and self.quick.job is None:
            # Without a tray the app would otherwise linger unseen after Esc.
            self.quick.status.setText(
                "No tray here: after Esc the assistant keeps running for your shortcut; "
                "Ctrl+Q quits it."
            )

    def toggle_talk(self) -> None:
        """`assistant ptt` and the tray item: first call listens, the next one asks."""
        if self.quick.listening:
            self.quick.stop_listening()
        else:
            self.quick.listen(hold=False)

    def notification_clicked(self) -> None:
        if self.quick.last_job is not None and self.quick.conversation_id is not None:
            self.quick.reveal()
        else:
            self.show_window()

    def open_settings(self) -> None:
        self.show_window()
        QTimer.singleShot(0, self._open_settings)

    def toggle_api(self) -> None:
        """The tray's "API server" item: turns api.enabled on or off."""
        new = self._live.current.model_copy(deep=True)
        new.api.enabled = not new.api.enabled
        self._live.save(new)  # -> changed -> apply_settings

    def quit(self) -> None:
        self.quitting = True
        self.api.stop()  # before the engine thread ends: cancels what the API runs
        self.hotkeys.close()
        self.quick.hide()
        if self.tray is not None:
            self.tray.hide()
        self.window.close()  # saves and stops the engine
        self.server.close()
        self.app.quit()

    # -- events -------------------------------------------------------------------

    def keep_running(self) -> bool:
        """Closing the window: hide to the tray instead of quitting, if set so."""
        if self.quitting or self.tray is None or not self._live.current.desktop.close_to_tray:
            return False
        if not self._told_tray:
            self._told_tray = True
            self.tray.notify("Assistant", "Still running in the tray. Quit from its menu.")
        return True

    def _hotkey_down(self, name: str) -> None:
        if name == "quick_prompt":
            if self.quick.isVisible() and self.quick.isActiveWindow():
                self.quick.hide()
            else:
                self.quick_prompt()
        elif name == "push_to_talk":
            self.quick.listen(hold=True)

    def _hotkey_up(self, name: str) -> None:
        if name == "push_to_talk":
            self.quick.stop_listening()

    def _ptt_state(self, state: str) -> None:
        if self.tray is not None:
            listening = state in ("listening", "loading", "recording")
            self.tray.set_state("listening" if listening else "idle")

    def _answering(self, _answer: Answer) -> None:
        if self.tray is not None:
            self.tray.set_state("answering")

    def _answered(self, answer: Answer) -> None:
        if self.tray is None:
            return
        self.tray.set_state("idle")
        hidden = not self.window.isVisible() and not self.quick.isVisible()
        quick_job = self.quick.last_job is answer
        if hidden and self._live.current.desktop.notify:
            text = self.quick.answer if quick_job else ""
            self.tray.notify("Answer ready", shorten(text, 200) or "An answer is ready.")

    def close(self) -> None:
        self.api.stop()
        self.hotkeys.close()
        self.server.close()


def shorten(text: str, limit: int) -> str:
    """At a word boundary, with an ellipsis when cut."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0].rstrip(",.;:") + "…"
