"""The transcript: one widget per message, re-rendered only when its own text changes.

Streaming touches only the last message (throttled), so long conversations
stay smooth: the rest of the transcript is never re-rendered per token.
"""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QGuiApplication, QTextOption
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QSizePolicy,
    QTextBrowser,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from assistant.core.history.store import Message
from assistant.ui.common import markdown_render

RENDER_INTERVAL_MS = 50  # at most ~20 re-renders a second while streaming
STATUS_NOTES = {"stopped": "stopped", "interrupted": "interrupted", "error": "failed"}


def is_dark(widget: QWidget) -> bool:
    return widget.palette().window().color().lightness() < 128


class AutoHeightBrowser(QTextBrowser):
    """A read-only rich-text view as tall as its content (the page scrolls, not it)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setOpenLinks(False)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Minimum)
        self.setWordWrapMode(QTextOption.WrapMode.WrapAtWordBoundaryOrAnywhere)
        self.document().setDocumentMargin(2)
        self.document().contentsChanged.connect(self._fit)

    def _fit(self) -> None:
        self.document().setTextWidth(self.viewport().width())
        h = int(self.document().size().height()) + 4
        if h != self.height():
            self.setFixedHeight(h)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._fit()

    def sizeHint(self) -> QSize:
        return QSize(400, int(self.document().size().height()) + 4)


class MessageWidget(QFrame):
    copy_code = Signal(str)
    edit_requested = Signal(int)
    regenerate_requested = Signal()
    branch_requested = Signal(int)
    remember_requested = Signal(int)
    source_clicked = Signal(QUrl)

    def __init__(self, role: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.role = role
        self.message: Message | None = None
        self.text = ""
        self._code: list[str] = []
        self.setObjectName("userMessage" if role == "user" else "assistantMessage")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(10, 6, 10, 6)
        head = QHBoxLayout()
        self.who = QLabel("<b>You</b>" if role == "user" else "<b>Assistant</b>")
        self.note = QLabel("")
        self.note.setStyleSheet("color: gray")
        head.addWidget(self.who)
        head.addWidget(self.note)
        head.addStretch(1)
        self.prev_btn = self._tool("‹", "Previous version")
        self.prev_btn.clicked.connect(lambda: self._step_branch(-1))
        self.branch_label = QLabel("")
        self.next_btn = self._tool("›", "Next version")
        self.next_btn.clicked.connect(lambda: self._step_branch(1))
        for w in (self.prev_btn, self.branch_label, self.next_btn):
            head.addWidget(w)
            w.hide()
        self.copy_btn = self._tool("Copy", "Copy this message")
        self.copy_btn.clicked.connect(self._copy)
        head.addWidget(self.copy_btn)
        self.edit_btn = self._tool("Edit", "Edit this message (makes a new branch)")
        self.edit_btn.clicked.connect(
            lambda: self.message and self.edit_requested.emit(self.message.id)
        )
        self.edit_btn.setVisible(role == "user")
        head.addWidget(self.edit_btn)
        self.regen_btn = self._tool("Regenerate", "Answer again (keeps this answer as a branch)")
        self.regen_btn.clicked.connect(self.regenerate_requested.emit)
        self.regen_btn.hide()
        head.addWidget(self.regen_btn)
        self.remember_btn = self._tool("Remember", "Remember this (saved to what I know about you)")
        self.remember_btn.clicked.connect(
            lambda: self.message and self.remember_requested.emit(self.message.id)
        )
        self.remember_btn.hide()
        head.addWidget(self.remember_btn)
        lay.addLayout(head)
        self.body = AutoHeightBrowser(self)
        self.body.setAccessibleName("Your message" if role == "user" else "Assistant's answer")
        self.body.anchorClicked.connect(self._link)
        lay.addWidget(self.body)
        self.sources = QLabel(self)  # what recall put in front of the model
        self.sources.setObjectName("sources")
        self.sources.setAccessibleName("Sources used for this answer")
        self.sources.setWordWrap(True)
        self.sources.setStyleSheet("color: gray")
        self.sources.linkActivated.connect(lambda url: self.source_clicked.emit(QUrl(url)))
        self.sources.hide()
        lay.addWidget(self.sources)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(RENDER_INTERVAL_MS)
        self._timer.timeout.connect(self._render)
        self._siblings: list[int] = []

    def _tool(self, text: str, tip: str) -> QToolButton:
        b = QToolButton(self)
        b.setText(text)
        b.setToolTip(tip)
        b.setAccessibleName(tip)
        b.setAutoRaise(True)
        return b

    # -- content -----------------------------------------------------------

    def bind(self, message: Message, siblings: list[int]) -> None:
        """Attach the stored message (ids, status, branches) and show its final text."""
        self.message = message
        self._siblings = siblings
        self.note.setText(self._status_note())
        self.remember_btn.show()
        self.set_sources(message.stats.get("recall") or [])
        if len(siblings) > 1:
            i = siblings.index(message.id)
            self.branch_label.setText(f"{i + 1}/{len(siblings)}")
            self.prev_btn.setEnabled(i > 0)
            self.next_btn.setEnabled(i < len(siblings) - 1)
            for w in (self.prev_btn, self.branch_label, self.next_btn):
                w.show()
        self.set_text(message.content, final=True)

    def _step_branch(self, step: int) -> None:
        if self.message is None or self.message.id not in self._siblings:
            return
        i = self._siblings.index(self.message.id) + step
        if 0 <= i < len(self._siblings):
            self.branch_requested.emit(self._siblings[i])

    def set_text(self, text: str, final: bool = False) -> None:
        self.text = text
        if final:
            self._timer.stop()
            self._render()
        elif not self._timer.isActive():
            self._timer.start()

    def append(self, piece: str) -> None:
        self.set_text(self.text + piece)

    def set_sources(self, items: list[dict]) -> None:
        from assistant.ui.chat.memory_actions import sources_html

        text = sources_html(items)
        self.sources.setText(text)
        self.sources.setVisible(bool(text))
        # What exactly was used, on hover: the memory's words, the passage's start.
        order = {"document": 0, "memory": 1, "conversation": 2}  # as the line lists them
        shown = sorted(items, key=lambda i: order.get(i.get("kind", ""), 3))
        self.sources.setToolTip(
            "\n".join(
                f"{i.get('label', '')}: {' '.join(i.get('text', '').split())[:140]}" for i in shown
            )
        )

    def set_note(self, note: str) -> None:
        self.note.setText(note)

    def set_editing(self, editing: bool) -> None:
        """Highlight the message being edited."""
        self.setStyleSheet(
            "#userMessage { border: 2px solid palette(highlight); }" if editing else ""
        )

    def set_left_out(self, left_out: bool) -> None:
        base = self._status_note()
        extra = "left out of the model's context" if left_out else ""
        self.note.setText(" · ".join(x for x in (base, extra) if x))

    def _status_note(self) -> str:
        m = self.message
        if m is None:
            return ""
        if m.status == "complete" and m.stats.get("finish_reason") == "length":
            return "cut off at the length limit"
        return STATUS_NOTES.get(m.status, "")

    def _render(self) -> None:
        if self.role == "user":
            self.body.setHtml(markdown_render.plain(self.text))
            self._code = []
            return
        pending = self.message is None or self.message.status == "streaming"
        shown = "<p style='color:gray'>" + ("…" if pending else "(no text)") + "</p>"
        r = markdown_render.render(self.text, is_dark(self)) if self.text else None
        self._code = list(r.code_blocks) if r else []
        self.body.setHtml(r.html if r else shown)

    def _copy(self) -> None:
        QGuiApplication.clipboard().setText(self.text)

    def _link(self, url: QUrl) -> None:
        if url.scheme() == "copy":
            i = int(url.path() or 0)
            if 0 <= i < len(self._code):
                QGuiApplication.clipboard().setText(self._code[i])
                self.copy_code.emit(self._code[i])


class ChatView(QScrollArea):
    """A scrolling column of MessageWidgets that follows new text when at the bottom."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWidgetResizable(True)
        self.setAccessibleName("Conversation")
        self.setFrameShape(QFrame.Shape.NoFrame)
        inner = QWidget()
        self.column = QVBoxLayout(inner)
        self.column.setContentsMargins(12, 12, 12, 12)
        self.column.setSpacing(8)
        self.column.addStretch(1)
        self.setWidget(inner)
        self._follow = True
        self._from_bottom = 0  # distance kept while older messages are added on top
        self._hold: int | None = None  # a scroll value to keep while the tail is rebuilt
        bar = self.verticalScrollBar()
        bar.valueChanged.connect(self._scrolled)
        bar.rangeChanged.connect(self._range_changed)

    def _scrolled(self, value: int) -> None:
        bar = self.verticalScrollBar()
        self._follow = value >= bar.maximum() - 24
        self._from_bottom = bar.maximum() - value

    def _range_changed(self, _lo: int, hi: int) -> None:
        # Follow new text at the bottom; otherwise keep what the user is reading in place.
        bar = self.verticalScrollBar()
        if self._hold is not None:
            bar.setValue(min(self._hold, hi))
        else:
            bar.setValue(hi if self._follow else max(0, hi - self._from_bottom))

    def hold_position(self, ms: int = 300) -> None:
        """Keep the view still while messages below are replaced (a branch switch)."""
        self._hold = self.verticalScrollBar().value()
        self._follow = False
        QTimer.singleShot(ms, lambda: setattr(self, "_hold", None))

    def show_widget(self, widget: QWidget) -> None:
        self._follow = False
        self.ensureWidgetVisible(widget, 0, 40)

    def messages(self) -> list[MessageWidget]:
        out = []
        for i in range(self.column.count()):
            w = self.column.itemAt(i).widget()
            if isinstance(w, MessageWidget):
                out.append(w)
        return out

    def add(self, widget: MessageWidget) -> MessageWidget:
        self.column.insertWidget(self.column.count() - 1, widget)
        self._follow = True
        return widget

    def prepend(self, widget: MessageWidget) -> MessageWidget:
        """Add an older message on top without moving the view."""
        self.column.insertWidget(0, widget)
        return widget

    def clear(self) -> None:
        for w in self.messages():
            self.column.removeWidget(w)
            w.deleteLater()

    def truncate_after(self, widget: MessageWidget | None) -> None:
        """Remove every message after ``widget`` (all of them when None)."""
        drop = widget is None
        for w in self.messages():
            if drop:
                self.column.removeWidget(w)
                w.deleteLater()
            elif w is widget:
                drop = True

    def scroll_to_bottom(self) -> None:
        self._follow = True
        bar = self.verticalScrollBar()
        bar.setValue(bar.maximum())
