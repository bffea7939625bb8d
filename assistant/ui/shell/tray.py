"""The system-tray icon: Open, Quick prompt, Push-to-talk, Settings, API server, Quit.

Its colour says what the assistant is doing (listening, answering). A click
opens the quick prompt, a double-click the window (and only the window). Some desktops have no tray (GNOME without an
extension); the app then says so once and runs without it.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QApplication, QMenu, QSystemTrayIcon

from assistant.ui.common.icons import app_icon

log = logging.getLogger(__name__)

NO_TRAY = "No system tray found: no tray icon, and closing the window quits."
TOOLTIPS = {
    "idle": "Assistant",
    "listening": "Assistant — listening",
    "answering": "Assistant — answering",
}


class Tray(QObject):
    """The icon and its menu; what the user picks comes out as signals."""

    open_requested = Signal()
    quick_requested = Signal()
    talk_requested = Signal()
    settings_requested = Signal()
    api_toggled = Signal()
    quit_requested = Signal()
    notification_clicked = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.state = "idle"
        self.icon = QSystemTrayIcon(app_icon(), self)
        self.icon.setToolTip(TOOLTIPS["idle"])
        self.menu = QMenu()
        self.actions: dict[str, QAction] = {}
        for key, label, signal in (
            ("open", "Open", self.open_requested),
            ("quick", "Quick prompt", self.quick_requested),
            ("ptt", "Push-to-talk", self.talk_requested),
            ("settings", "Settings…", self.settings_requested),
            ("api", "API server", self.api_toggled),
            (None, None, None),
            ("quit", "Quit", self.quit_requested),
        ):
            if key is None:
                self.menu.addSeparator()
                continue
            action = self.menu.addAction(label)
            # A lambda: `triggered` passes `checked`, which the signals do not take.
            action.triggered.connect(lambda _checked=False, s=signal: s.emit())
            self.actions[key] = action
        self.actions["ptt"].setToolTip("Start listening; choose it again to stop and ask")
        self.actions["api"].setCheckable(True)
        self.actions["api"].setToolTip("Other programs on this computer may use the model")
        self.icon.setContextMenu(self.menu)
        # A double-click arrives as a click first: the quick prompt waits until no second
        # click can follow, so a double-click leaves no empty prompt behind the window.
        self._click = QTimer(self)
        self._click.setSingleShot(True)
        self._click.setInterval(QApplication.doubleClickInterval())
        self._click.timeout.connect(self.quick_requested.emit)
        self.icon.activated.connect(self._activated)
        self.icon.messageClicked.connect(self.notification_clicked.emit)

    @staticmethod
    def available() -> bool:
        return QSystemTrayIcon.isSystemTrayAvailable()

    def show(self) -> None:
        self.icon.show()
        # The tray host embeds the icon asynchronously; log where it ended up.
        QTimer.singleShot(1500, lambda: log.info("tray icon shown at %s", self._where()))

    def _where(self) -> str:
        g = self.icon.geometry()
        return f"{g.x()},{g.y()} {g.width()}x{g.height()}"

    def _activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason == QSystemTrayIcon.ActivationReason.Trigger:
            self._click.start()
        elif reason == QSystemTrayIcon.ActivationReason.MiddleClick:
            self.quick_requested.emit()
        elif reason == QSystemTrayIcon.ActivationReason.DoubleClick:
            self._click.stop()
            self.open_requested.emit()

    def set_state(self, state: str) -> None:
        if state == self.state:
            return
        self.state = state
        self.icon.setIcon(app_icon(state))
        self.icon.setToolTip(TOOLTIPS.get(state, TOOLTIPS["idle"]))
        self.actions["ptt"].setText(
            "Stop listening and ask" if state == "listening" else "Push-to-talk"
        )

    def set_api(self, on: bool) -> None:
        self.actions["api"].setChecked(on)

    def notify(self, title: str, text: str) -> None:
        if self.icon.isVisible() and self.icon.supportsMessages():
            self.icon.showMessage(title, text, app_icon(), 8000)

    def hide(self) -> None:
        self.icon.hide()
