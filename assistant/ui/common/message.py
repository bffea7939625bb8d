"""The one message bridge: any part of the UI says something to the user here, and the
window decides how it is shown (status bar for passing news, a banner for what stays)."""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal


class Messages(QObject):
    """Passing news (`info`) and lasting problems (`show_banner` / `hide_banner`, by kind:
    "model", "settings", "voice", "api" …). A part that reports never needs the window."""

    status = Signal(str, int)  # text, milliseconds on screen (0: until the next one)
    banner = Signal(str, str)  # text, kind
    banner_cleared = Signal(str)  # kind

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.banner_kind = ""  # the kind on screen now, "" when none

    def info(self, text: str, ms: int = 5000) -> None:
        self.status.emit(text, ms)

    def show_banner(self, text: str, kind: str) -> None:
        self.banner_kind = kind
        self.banner.emit(text, kind)

    def hide_banner(self, kind: str) -> None:
        """Hide the banner if it says something of this kind (another kind stays)."""
        if self.banner_kind == kind:
            self.banner_kind = ""
            self.banner_cleared.emit(kind)
