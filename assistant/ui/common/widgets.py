"""Small widget builders shared by the memory and documents windows."""

from __future__ import annotations

import math
from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QWidget,
)

EMPTY_STYLE = "color: #767676; padding: 24px"
ERROR_STYLE = "color: #c0392b"


def make_button(text: str, tip: str, slot: Callable[[], object]) -> QPushButton:
    b = QPushButton(text)
    b.setAccessibleName(text.rstrip("…"))
    b.setToolTip(tip)
    b.setAutoDefault(False)  # Enter in a line edit must not click some button
    b.clicked.connect(slot)
    return b


def note(name: str, style: str, text: str = "") -> QLabel:
    """A wrapped, selectable line of text: status, error, empty-state."""
    label = QLabel(text)
    label.setObjectName(name)
    label.setAccessibleName(name.split("_")[-1].capitalize())
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    label.setStyleSheet(style)
    return label


def ask_yes_no(parent: QWidget, title: str, text: str) -> bool:
    std = QMessageBox.StandardButton
    return QMessageBox.question(parent, title, text, std.Yes | std.No, std.No) == std.Yes


def button_row(*widgets: QWidget | None, margin: int | None = None) -> QHBoxLayout:
    """A row of widgets; None is a stretch. A line edit takes the spare room."""
    row = QHBoxLayout()
    if margin is not None:
        row.setContentsMargins(margin, margin, margin, margin)
    for w in widgets:
        if w is None:
            row.addStretch(1)
        else:
            row.addWidget(w, 1 if isinstance(w, QLineEdit) else 0)
    return row


def level_meter() -> QProgressBar:
    """A small microphone level bar (hidden until listening)."""
    meter = QProgressBar()
    meter.setRange(0, 100)
    meter.setTextVisible(False)
    meter.setFixedSize(60, 10)
    meter.setAccessibleName("Microphone level")
    meter.setToolTip("Microphone level")
    meter.setStyleSheet(
        "QProgressBar { border: 1px solid palette(mid); border-radius: 3px; }"
        "QProgressBar::chunk { background: #2e7d32; border-radius: 2px; }"
    )
    meter.hide()
    return meter


def meter_value(rms: float) -> int:
    """RMS 0..1 on a decibel scale: -60 dBFS (silence) is empty, -10 dBFS is full."""
    if rms <= 0:
        return 0
    return max(0, min(100, round((20 * math.log10(rms) + 60) * 2)))
