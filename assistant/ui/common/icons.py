"""The app icon, drawn in code so the tray can show state without image files:
a speech bubble, grey-blue when idle, red while listening, green while answering."""

from __future__ import annotations

from functools import lru_cache

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPainterPath, QPixmap, QPolygonF

COLORS = {"idle": "#3b6ea5", "listening": "#c62828", "answering": "#2e7d32"}


def _bubble(size: int, color: str) -> QPixmap:
    pm = QPixmap(size, size)
    pm.fill(Qt.GlobalColor.transparent)
    p = QPainter(pm)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    s = size / 64
    path = QPainterPath()
    path.addRoundedRect(QRectF(4 * s, 6 * s, 56 * s, 40 * s), 12 * s, 12 * s)
    tail = QPolygonF([QPointF(16 * s, 44 * s), QPointF(14 * s, 60 * s), QPointF(32 * s, 44 * s)])
    path.addPolygon(tail)
    p.fillPath(path.simplified(), QColor(color))
    p.setBrush(QColor("white"))
    p.setPen(Qt.PenStyle.NoPen)
    for x in (20, 32, 44):  # three dots: "…"
        p.drawEllipse(QPointF(x * s, 26 * s), 4 * s, 4 * s)
    p.end()
    return pm


@lru_cache(maxsize=8)
def app_icon(state: str = "idle") -> QIcon:
    icon = QIcon()
    for size in (16, 22, 24, 32, 48, 64, 128):
        icon.addPixmap(_bubble(size, COLORS.get(state, COLORS["idle"])))
    return icon
