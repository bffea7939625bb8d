"""Render resources/icons/assistant.svg into the PNG sizes desktops look for.

python packaging/render_icons.py     (the PNGs are committed; rerun after editing the SVG)
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication, QImage, QPainter
from PySide6.QtSvg import QSvgRenderer

ICONS = Path(__file__).resolve().parents[1] / "resources" / "icons"
SIZES = (16, 24, 32, 48, 64, 128, 256, 512)


def main() -> int:
    _app = QGuiApplication(sys.argv)
    svg = QSvgRenderer(str(ICONS / "assistant.svg"))
    if not svg.isValid():
        print("assistant.svg is not a valid SVG", file=sys.stderr)
        return 1
    for size in SIZES:
        img = QImage(size, size, QImage.Format.Format_ARGB32)
        img.fill(Qt.GlobalColor.transparent)
        p = QPainter(img)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        svg.render(p)
        p.end()
        out = ICONS / f"assistant-{size}.png"
        img.save(str(out))
        print(out.relative_to(ICONS.parents[1]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
