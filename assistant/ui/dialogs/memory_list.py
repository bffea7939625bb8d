"""How the memory window lists memories: each item its text, wrapped, with a smaller
grey line under it (when it was saved, whether it was edited, where it came from)."""

from __future__ import annotations

from datetime import datetime

from PySide6.QtCore import QModelIndex, QRect, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPalette
from PySide6.QtWidgets import (
    QListWidget,
    QListWidgetItem,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
)

from assistant.core.memory.store import Memory

ID_ROLE = Qt.ItemDataRole.UserRole
META_ROLE = Qt.ItemDataRole.UserRole + 1  # the grey line under the text
CONV_ROLE = Qt.ItemDataRole.UserRole + 2  # source conversation id, or None

PAD = 6
WRAP = Qt.TextFlag.TextWordWrap


def saved_on(ts: float) -> str:
    t = datetime.fromtimestamp(ts)
    return f"{t.day} {t:%b %Y}"  # not %-d: Windows has no such directive


class TwoLineDelegate(QStyledItemDelegate):
    """An item's text, wrapped, with a smaller grey line (META_ROLE) under it."""

    @staticmethod
    def _meta_font(font: QFont) -> QFont:
        small = QFont(font)
        small.setPointSizeF(max(font.pointSizeF() * 0.9, 7.0))
        return small

    def _width(self, option: QStyleOptionViewItem) -> int:
        view = self.parent()
        width = view.viewport().width() if isinstance(view, QListWidget) else option.rect.width()
        return max(width - 2 * PAD, 60)

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex) -> QSize:
        width = self._width(option)
        box = QRect(0, 0, width, 100_000)
        height = QFontMetrics(option.font).boundingRect(box, WRAP, index.data() or "").height()
        meta = index.data(META_ROLE)
        if meta:
            fm = QFontMetrics(self._meta_font(option.font))
            height += 2 + fm.boundingRect(box, WRAP, meta).height()
        return QSize(width, height + 2 * PAD)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        opt.text = ""  # the style draws background and selection; the text is ours
        widget = opt.widget
        if widget is not None:
            widget.style().drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, painter, widget)
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        role = QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text
        rect = option.rect.adjusted(PAD, PAD, -PAD, -PAD)
        painter.save()
        painter.setPen(option.palette.color(role))
        painter.setFont(option.font)
        used = painter.boundingRect(rect, WRAP, index.data() or "")
        painter.drawText(rect, WRAP, index.data() or "")
        meta = index.data(META_ROLE)
        if meta:
            painter.setFont(self._meta_font(option.font))
            painter.setPen(option.palette.color(role) if selected else QColor("#767676"))
            painter.drawText(rect.adjusted(0, used.height() + 2, 0, 0), WRAP, meta)
        painter.restore()


def memory_list(name: str, accessible: str) -> QListWidget:
    w = QListWidget()
    w.setObjectName(name)
    w.setAccessibleName(accessible)
    w.setItemDelegate(TwoLineDelegate(w))
    w.setResizeMode(QListWidget.ResizeMode.Adjust)  # re-wrap the texts on resize
    w.setVerticalScrollMode(QListWidget.ScrollMode.ScrollPerPixel)
    w.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    return w


def memory_item(m: Memory, edited: bool, proposal: bool = False) -> QListWidgetItem:
    parts = [f"{'suggested' if proposal else 'saved'} {saved_on(m.created_at)}"]
    if edited:
        parts.append("updated: see History")
    if m.source_conversation_id is not None:
        parts.append("from a conversation")
    item = QListWidgetItem(m.text)
    item.setData(ID_ROLE, m.id)
    item.setData(META_ROLE, " · ".join(parts))
    item.setData(CONV_ROLE, m.source_conversation_id)
    item.setToolTip(m.text)
    return item
