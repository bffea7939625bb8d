"""The quick prompt: a small frameless window to ask without opening the main one.

It shares the app's engine with the main window (jobs are queued, never
interleaved) and its history: every quick prompt is a conversation like any
other, with memory recall, and "Continue in window" asks for it there
(``continue_requested``). Esc hides it; an answer still
streaming goes on and is saved.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QGuiApplication, QKeyEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QCheckBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from assistant.core.base.types import Done
from assistant.ui.common import markdown_render
from assistant.ui.common.icons import app_icon
from assistant.ui.common.widgets import level_meter, meter_value
from assistant.ui.services.engine_client import Answer
from assistant.ui.services.parts import AppServices

log = logging.getLogger(__name__)

MAX_CONTEXT_CHARS = 8000  # of selected text sent along; the model's context is small
PLACEHOLDER = "Ask anything… (Enter to ask, Esc to hide)"


def selected_text(exclude: str = "") -> str:
    """The primary selection (X11: what is highlighted anywhere), else the clipboard;
    never ``exclude`` (the answer the user just copied from here)."""
    clip = QGuiApplication.clipboard()
    modes = [clip.Mode.Selection] if clip.supportsSelection() else []
    for mode in [*modes, clip.Mode.Clipboard]:
        text = clip.text(mode).strip()
        if text and text != exclude.strip():
            return text
    return ""


def with_context(question: str, context: str) -> str:
    if not context:
        return question
    if len(context) > MAX_CONTEXT_CHARS:
        context = context[:MAX_CONTEXT_CHARS] + "\n[…cut]"
    # Plain text: it reads the same in the history, the sidebar and the prompt.
    return f"{question}\n\nSelected text:\n---\n{context}\n---"


class QuickPrompt(QWidget):
    answered = Signal(str)  # the finished answer's text, for a notification when hidden
    asked = Signal(int)  # a question was saved in this conversation
    answer_saved = Signal(int)  # an answer in this conversation is complete
    continue_requested = Signal(int)  # "Continue in window" for this conversation

    def __init__(self, services: AppServices) -> None:
        super().__init__(None, Qt.WindowType.Tool | Qt.WindowType.FramelessWindowHint)
        self._engine, self._store, self._live = services.engine, services.store, services.live
        self.ptt = ptt = services.ptt
        self.setWindowTitle("Quick prompt")
        self.setWindowIcon(app_icon())
        self.setObjectName("quick")
        # Frameless: draw our own edge so it stands apart from the window behind.
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.setStyleSheet(
            "#quick { border: 1px solid palette(dark); background: palette(window); }"
        )
        self.resize(620, 360)
        self.conversation_id: int | None = None
        self.job: Answer | None = None
        self.answer = ""
        self.last_job: Answer | None = None  # the latest answer asked for here
        self._copied = ""  # what Copy put on the clipboard: not offered as a selection
        self._hold = True  # how listening was started: a held hotkey, or a toggle
        self.quit_app: Callable[[], object] = self.close  # Ctrl+Q: the app's Quit, once wired

        self.input = QLineEdit()
        self.input.setPlaceholderText(PLACEHOLDER)
        self.input.setAccessibleName("Quick question")
        self.input.returnPressed.connect(lambda: self.ask(self.input.text()))
        self.input.installEventFilter(self)
        self.context_box = QCheckBox()
        self.context_box.setAccessibleName("Include the selected text")
        self.context_box.hide()
        self.question = QLabel("")
        self.question.setWordWrap(True)
        self.question.setStyleSheet("font-weight: bold")
        self.question.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.question.hide()
        self.view = QTextBrowser()
        self.view.setOpenExternalLinks(False)
        self.view.setFrameShape(QFrame.Shape.NoFrame)
        self.view.setPlaceholderText("The answer appears here.")
        self.status = QLabel("")
        self.status.setStyleSheet("color: gray")
        self.status.setWordWrap(True)
        self.meter = level_meter()
        self.copy_btn = QPushButton("Copy")
        self.copy_btn.setToolTip("Copy the answer (Ctrl+C)")
        self.copy_btn.clicked.connect(self.copy_answer)
        self.stop_btn = QPushButton("Stop")
        self.stop_btn.clicked.connect(self.stop)
        self.stop_btn.hide()
        self.continue_btn = QPushButton("Continue in window")
        self.continue_btn.setToolTip("Open this conversation in the main window (Ctrl+O)")
        self.continue_btn.clicked.connect(self.continue_in_window)

        row = QHBoxLayout()
        row.addWidget(self.status, 1)
        for w in (self.meter, self.stop_btn, self.copy_btn, self.continue_btn):
            row.addWidget(w)
        col = QVBoxLayout(self)
        col.setContentsMargins(10, 10, 10, 8)
        col.addWidget(self.input)
        col.addWidget(self.context_box)
        col.addWidget(self.question)
        col.addWidget(self.view, 1)
        col.addLayout(row)
        QShortcut(QKeySequence("Ctrl+O"), self, self.continue_in_window)
        QShortcut(QKeySequence("Ctrl+N"), self, self.start_over)
        QShortcut(QKeySequence.StandardKey.Quit, self, lambda: self.quit_app())
        self._update_buttons()

        self._render_timer = QTimer(self)  # re-render the markdown at most every 50 ms
        self._render_timer.setSingleShot(True)
        self._render_timer.setInterval(50)
        self._render_timer.timeout.connect(self._render)
        self._meter_timer = QTimer(self)
        self._meter_timer.setInterval(50)
        self._meter_timer.timeout.connect(lambda: self.meter.setValue(meter_value(ptt.level)))

        ptt.partial.connect(self._partial)
        ptt.final.connect(self._heard)
        ptt.failed.connect(self._voice_failed)
        ptt.state.connect(self._voice_state)

    # -- showing -----------------------------------------------------------------

    def open(self, text: str = "") -> None:
        """Show it in front, ready to type; ``text`` is asked at once.

        Each visit from outside (hotkey, tray, `assistant quick`) starts clean and
        its first question starts a new conversation; questions typed while it is
        open continue that one. An answer still streaming is left on screen.
        """
        if self.job is None:
            self.start_over(quiet=True)
        self._offer_selection()
        self._place()
        self.show()
        self.raise_()
        self.activateWindow()
        self.input.setFocus()
        if text.strip():
            self.input.setText(text)
            self.ask(text)

    def reveal(self) -> None:
        """Show it as it is (a notification was clicked)."""
        self.show()
        self.raise_()
        self.activateWindow()

    def _offer_selection(self) -> None:
        context = selected_text(exclude=self._copied)
        self.context_box.setVisible(bool(context))
        self.context_box.setChecked(False)
        if context:
            short = " ".join(context.split())
            short = short if len(short) <= 60 else short[:57] + "…"
            self.context_box.setText(f"Include the selected text: “{short}”")

    def _place(self) -> None:
        screen = QGuiApplication.screenAt(self.cursor().pos()) or QGuiApplication.primaryScreen()
        if screen is None:
            return
        g = screen.availableGeometry()
        self.move(g.x() + (g.width() - self.width()) // 2, g.y() + g.height() // 5)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Escape:
            self.hide()
            return
        if (
            event.matches(QKeySequence.StandardKey.Copy)
            and not self.view.textCursor().hasSelection()
        ):
            self.copy_answer()
            return
        super().keyPressEvent(event)

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        # Ctrl+C in the input copies the answer unless part of the input is selected.
        if obj is self.input and event.type() == QEvent.Type.KeyPress:
            assert isinstance(event, QKeyEvent)
            if event.matches(QKeySequence.StandardKey.Copy) and not self.input.hasSelectedText():
                self.copy_answer()
                return True
            if event.key() == Qt.Key.Key_Escape:
                self.hide()
                return True
        return super().eventFilter(obj, event)

    # -- asking ------------------------------------------------------------------

    def ask(self, text: str) -> None:
        question = text.strip()
        if not question or self.job is not None:
            return
        shown = question
        if self.context_box.isVisible() and self.context_box.isChecked():
            question = with_context(question, selected_text(exclude=self._copied))
        self.context_box.setChecked(False)
        self.context_box.hide()
        if self.conversation_id is None:
            conv = self._store.create_conversation(
                title=shown[:80],
                system_prompt=self._live.current.chat.system_prompt,
                model=self._engine.model_info.name if self._engine.model_info else None,
            )
            self.conversation_id = conv.id
        self.input.clear()
        self.question.setText(shown)
        self.question.show()
        self.answer = ""
        self.view.clear()
        if not self._engine.model_info:
            self.status.setText("Waiting for the model to load…")
        elif self._engine.answering:
            self.status.setText("Waiting for the answer in the main window to finish…")
        else:
            self.status.setText("Thinking…")
        self._engine.send(self.conversation_id, question, watch=self._watch)
        self._update_buttons()
        self.asked.emit(self.conversation_id)

    def stop(self) -> None:
        if self.job is not None:
            self._engine.stop(self.job)

    def start_over(self, quiet: bool = False) -> None:
        """A new conversation at the next question (Ctrl+N)."""
        if self.job is not None:
            return
        self.conversation_id = None
        self.answer = ""
        self.question.hide()
        self.view.clear()
        self.status.setText("" if quiet else "New conversation.")
        self.status.setToolTip("")
        self._update_buttons()
        self.input.setFocus()

    def copy_answer(self) -> None:
        if self.answer:
            QGuiApplication.clipboard().setText(self.answer)
            self._copied = self.answer
            self.status.setText("Answer copied.")

    def continue_in_window(self) -> None:
        if self.conversation_id is None:
            return
        self.continue_requested.emit(self.conversation_id)
        self.hide()

    def _update_buttons(self) -> None:
        busy = self.job is not None
        self.stop_btn.setVisible(busy)
        self.copy_btn.setEnabled(bool(self.answer))
        self.continue_btn.setEnabled(self.conversation_id is not None)

    # -- the answer's signals (GUI thread) -----------------------------------------------

    def _watch(self, answer: Answer) -> None:
        self.job = self.last_job = answer
        answer.started.connect(lambda: self.status.setText("Answering…"))
        answer.chunk.connect(self._chunk)
        answer.finished.connect(self._finished)
        answer.failed.connect(self._failed)

    def _chunk(self, text: str) -> None:
        self.answer += text
        if not self._render_timer.isActive():
            self._render_timer.start()

    def _render(self) -> None:
        self.view.setHtml(markdown_render.render(self.answer).html)
        bar = self.view.verticalScrollBar()
        bar.setValue(bar.maximum())
        self.copy_btn.setEnabled(bool(self.answer))

    def _finished(self, done: Done) -> None:
        self.job = None
        self._render_timer.stop()
        self._render()
        notes = {
            "cancelled": "Stopped.",
            "length": "Cut off at the answer length limit (Settings → Max tokens per answer).",
        }
        self.status.setText(notes.get(done.finish_reason, ""))
        self._update_buttons()
        if self.conversation_id is not None:
            self.answer_saved.emit(self.conversation_id)
        self.answered.emit(self.answer)

    def _failed(self, message: str) -> None:
        self.job = None
        self.status.setText(message)
        self.status.setToolTip(message)
        self._update_buttons()

    # -- voice (the global hold-to-talk hotkey and `assistant ptt`) --------------------

    def listen(self, hold: bool = True) -> None:
        """Open and start listening; the answer follows the transcript.

        ``hold``: the hotkey is held (let go to ask); otherwise a toggle (`assistant
        ptt` or the tray item again asks).
        """
        self.open()
        self._hold = hold
        if not self.ptt.press(self):
            self.status.setText("Still transcribing the last recording…")
            return
        self.status.setText("Opening the microphone…")
        self.meter.setValue(0)
        self.meter.show()
        self._meter_timer.start()

    def stop_listening(self) -> None:
        if self.ptt.owner is self and self.ptt.release():
            self.status.setText("Transcribing…")
        self._meter_timer.stop()
        self.meter.hide()

    @property
    def listening(self) -> bool:
        return self.ptt.owner is self and self.ptt.held

    def _voice_state(self, state: str) -> None:
        if not self.listening:
            return
        if state == "loading":
            more = " keep holding." if self._hold else ""
            self.status.setText(f"Loading the speech model (first use)…{more}")
        elif state == "recording":
            how = (
                "let go of the hotkey to ask."
                if self._hold
                else "run `assistant ptt` again (or use the tray's Stop listening) to ask."
            )
            self.status.setText(f"Listening… {how}")

    def _partial(self, text: str) -> None:
        if self.listening and text:
            self.input.setText(text)

    def _heard(self, text: str, _latency: float, _duration: float) -> None:
        if self.ptt.owner is not self:
            return
        self._meter_timer.stop()
        self.meter.hide()
        if not text:
            self.status.setText("Nothing was heard. Speak once it says “Listening…”.")
            return
        self.input.setText(text)
        self.ask(text)

    def _voice_failed(self, message: str) -> None:
        if self.ptt.owner is self:
            self._meter_timer.stop()
            self.meter.hide()
            self.status.setText(message)
            self.status.setToolTip(message)
