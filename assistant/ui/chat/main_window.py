"""The main window: conversations on the left, the chat in the middle, the
prompt inspector on the right. The model runs on the engine thread; this
class only reacts to its signals."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QMainWindow,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from assistant.core.base.types import Done, ModelInfo
from assistant.core.config.settings import Settings
from assistant.core.history.store import Message
from assistant.ui.chat.composer import Composer
from assistant.ui.chat.controls import Banner, ChatButtons, ReadAhead
from assistant.ui.chat.edit_mode import EditMode
from assistant.ui.chat.inspector import PromptInspector, left_out_texts
from assistant.ui.chat.memory_actions import MemoryActions
from assistant.ui.chat.menus import MenuActions, build_menus
from assistant.ui.chat.message_view import ChatView, MessageWidget
from assistant.ui.chat.settings_actions import SettingsActions
from assistant.ui.chat.sidebar import Sidebar
from assistant.ui.chat.status_line import StatusLine
from assistant.ui.chat.transcript import Transcript
from assistant.ui.chat.voice_input import VoiceInput
from assistant.ui.common import markdown_render
from assistant.ui.common.widgets import button_row
from assistant.ui.services.engine_client import Answer
from assistant.ui.services.parts import AppServices

log = logging.getLogger(__name__)


class MainWindow(QMainWindow):
    def __init__(self, services: AppServices) -> None:
        super().__init__()
        self.services = services
        self.store, self.engine, self.ptt = services.store, services.engine, services.ptt
        self.live, self.messages = services.live, services.messages
        store = self.store
        self.setWindowTitle("Assistant")
        self.resize(1100, 760)
        self.streaming: MessageWidget | None = None
        self.job: Answer | None = None  # the answer this window is showing
        self._keep_running: Callable[[], bool] = lambda: False  # True: closing hides it
        self._quit_app: Callable[[], object] = self.close  # Quit (Ctrl+Q)
        self._warmed = False
        self.settings_actions = SettingsActions(services, self, lambda: self.conversation_id)
        self.memory_actions = MemoryActions(services, self)

        self.sidebar = Sidebar(store)
        self.chat = ChatView()
        self.transcript = Transcript(self.chat, store, self._widget)
        self.banner = Banner(self.messages)
        self.composer = Composer()
        self.edit = EditMode(self.composer, self.chat, store)
        self.buttons = ChatButtons()
        b = self.buttons
        self.send_btn, self.stop_btn, self.regen_btn = b.send, b.stop, b.regenerate
        self.persona_btn = b.persona
        self.voice = VoiceInput(self, self.composer, services)

        buttons = button_row(
            self.persona_btn,
            self.memory_actions.docs_btn,
            None,
            self.voice.meter,
            self.voice.button,
            self.regen_btn,
            self.stop_btn,
            self.send_btn,
        )
        center = QWidget()
        col = QVBoxLayout(center)
        col.setContentsMargins(0, 0, 6, 6)
        proposals = self.memory_actions.proposals
        for w in (self.banner, self.chat, proposals, self.edit.note, self.composer):
            col.addWidget(w, 1 if w is self.chat else 0)
        col.addLayout(buttons)
        split = QSplitter()
        split.addWidget(self.sidebar)
        split.addWidget(center)
        split.setStretchFactor(1, 1)
        split.setSizes([260, 840])
        self.setCentralWidget(split)

        self.inspector = PromptInspector()
        self.inspector_dock = self.inspector.dock(self)

        self.status_line = StatusLine(self.statusBar(), self.engine, self.messages)
        build_menus(self, self._menu_actions())

        self.sidebar.selected.connect(self.open_conversation)
        self.sidebar.new_requested.connect(self.new_conversation)
        self.sidebar.deleted.connect(self._deleted)
        self.composer.submitted.connect(self.submit)
        self.read_ahead = ReadAhead(self.composer, self.engine, self._read_ahead_in, self)
        self.send_btn.clicked.connect(lambda: self.submit(self.composer.toPlainText().strip()))
        self.stop_btn.clicked.connect(self.stop)
        self.regen_btn.clicked.connect(self.regenerate)
        self.persona_btn.clicked.connect(self.settings_actions.edit_persona)
        self.settings_actions.persona_named.connect(self.persona_btn.setText)
        self.voice.submit_requested.connect(self.submit)
        self.memory_actions.open_conversation_requested.connect(self.open_conversation)
        self.memory_actions.sources_ready.connect(self._sources)
        self.messages.status.connect(self.statusBar().showMessage)

        self.engine.loaded.connect(self._loaded)
        self.engine.load_failed.connect(self._load_failed)
        self.engine.load_refused.connect(self._load_refused)
        self.engine.load(self.settings)

        self.sidebar.refresh()
        latest = store.latest_conversation()
        if latest is not None:
            self.open_conversation(latest.id)
        self.settings_actions.update_persona_button()
        self._update_buttons()
        self.composer.setFocus()

    @property
    def conversation_id(self) -> int | None:
        return self.transcript.conversation_id

    @property
    def settings(self) -> Settings:
        return self.live.current

    @property
    def model_info(self) -> ModelInfo | None:
        """What the loaded model says of itself; None while none is loaded."""
        return self.engine.model_info

    def _menu_actions(self) -> MenuActions:
        sa, ma = self.settings_actions, self.memory_actions
        return MenuActions(
            new_chat=self.new_conversation,
            search=self.focus_search,
            focus_input=self.composer.setFocus,
            stop=self.stop,
            regenerate=self.regenerate,
            quit=lambda: self._quit_app(),
            memory_window=ma.open_memory_window,
            documents_window=ma.open_documents_window,
            documents_only=ma.docs_btn,
            inspector=self.inspector_dock.toggleViewAction(),
            settings=sa.open_settings,
            persona=sa.edit_persona,
            get_models=sa.open_models_window,
            fill_models_menu=sa.fill_models_menu,
        )

    def focus_search(self) -> None:
        self.sidebar.search.setFocus()
        self.sidebar.search.selectAll()

    def set_close_policy(self, keep_running: Callable[[], bool], quit_app: Callable[[], object]):
        """Set by the composition root: whether closing only hides the window (a tray
        keeps the app), and what Quit does (the whole app, not only this window)."""
        self._keep_running, self._quit_app = keep_running, quit_app

    def open_settings(self) -> None:
        self.settings_actions.open_settings()

    def continue_conversation(self, cid: int) -> None:
        """Bring the window up on conversation ``cid`` (from the quick prompt)."""
        if self.streaming is None:
            self.open_conversation(cid)
        self.showNormal()
        self.raise_()
        self.activateWindow()

    def conversation_saved(self, cid: int) -> None:
        """Someone else (the quick prompt) saved to ``cid``: show it if it is on screen."""
        self.sidebar.refresh()
        if cid == self.conversation_id and self.streaming is None:
            self.open_conversation(cid)

    def _sources(self, items: list) -> None:
        if self.streaming is not None:
            self.streaming.set_sources(items)

    # -- conversations --------------------------------------------------------

    def new_conversation(self) -> None:
        if self.streaming is not None:
            return
        self.transcript.show(None)
        self.sidebar.mark_current(None)
        self.edit.cancel()
        self._show_report(None)
        self.settings_actions.update_persona_button()
        self.composer.setFocus()
        self._update_buttons()

    def open_conversation(self, cid: int, message_id: int | None = None) -> None:
        """Open a conversation; with ``message_id`` (a search hit), on that message's branch."""
        if self.streaming is not None:
            self.statusBar().showMessage("Stop the answer first to switch conversations.", 4000)
            self.sidebar.mark_current(self.conversation_id)
            return
        self.edit.cancel()
        if message_id:
            self.store.switch_branch(message_id)
        thread = self.transcript.show(cid, focus=message_id or None)
        self.sidebar.mark_current(cid)
        last = next((m for m in reversed(thread) if m.role == "assistant"), None)
        self._show_report(last)
        self.settings_actions.update_persona_button()
        self._update_buttons()

    def _widget(self, role: str, top: bool = False) -> MessageWidget:
        w = MessageWidget(role)
        if top:
            self.chat.prepend(w)
        else:
            self.chat.add(w)
        w.edit_requested.connect(self.start_edit)
        w.regenerate_requested.connect(self.regenerate)
        w.branch_requested.connect(self.switch_branch)
        w.copy_code.connect(lambda _c: self.statusBar().showMessage("Code copied", 2000))
        w.remember_requested.connect(self.memory_actions.remember_message)
        w.source_clicked.connect(self.memory_actions.open_source)
        return w

    def _deleted(self, cid: int) -> None:
        if cid == self.conversation_id:
            self.new_conversation()

    def switch_branch(self, message_id: int) -> None:
        if self.streaming is None:
            self.store.switch_branch(message_id)
            self.transcript.replace_from(message_id)
            self._update_buttons()

    def _show_report(self, answer: Message | None) -> None:
        """Status bar and inspector for the conversation's last answer (or nothing yet)."""
        stats = answer.stats if answer else {}
        report = stats.get("prompt")
        left_out = left_out_texts(self.store, report)
        self.inspector.show_report(report, left_out, stats.get("recall"))
        self.status_line.show_report(stats, self.model_info.n_ctx if self.model_info else None)
        if report:
            self.transcript.mark_left_out(set(report.get("dropped_ids") or []))

    # -- sending --------------------------------------------------------------

    def submit(self, text: str) -> None:
        if not text or self.streaming is not None:
            return
        self.messages.hide_banner("voice")  # the user moved on
        self.messages.hide_banner("model-choice")
        if self.edit.active:
            self._send_edit(text)
            return
        if self.conversation_id is None:
            conv = self.store.create_conversation(
                system_prompt=self.settings_actions.conversation_prompt(),
                model=self.model_info.name if self.model_info else None,
            )
            self.transcript.conversation_id = conv.id
            self.sidebar.mark_current(conv.id)
        self.composer.clear()
        self._widget("user").set_text(text, final=True)
        docs = self.memory_actions.documents_only
        self.engine.send(conv_id(self), text, docs, watch=self._begin)

    def _begin(self, answer: Answer) -> None:
        """Before the engine starts on it: this window shows ``answer``."""
        self.job = answer
        answer.chunk.connect(self._chunk)
        answer.notice.connect(self._notice)
        answer.finished.connect(self._finished)
        answer.failed.connect(self._failed)
        self.memory_actions.watch(answer)
        self.status_line.answer_started(bool(self.model_info))
        self.streaming = self._widget("assistant")
        self.streaming.set_text("", final=True)
        self.streaming.set_note("" if self.model_info else "waiting for the model to load…")
        self.chat.scroll_to_bottom()
        self._update_buttons()

    def _read_ahead_in(self) -> int | None:
        busy = self.streaming is not None or self.edit.active
        return None if busy else self.conversation_id

    def regenerate(self) -> None:
        if self.streaming is not None or self.conversation_id is None:
            return
        widgets = self.chat.messages()
        if not any(w.role == "user" for w in widgets):
            return
        if widgets and widgets[-1].role == "assistant":
            self.chat.truncate_after(widgets[-2] if len(widgets) > 1 else None)
        docs = self.memory_actions.documents_only
        self.engine.regenerate(conv_id(self), docs, watch=self._begin)

    def start_edit(self, message_id: int) -> None:
        if self.streaming is not None:
            return
        self.edit.start(message_id)

    def _send_edit(self, text: str) -> None:
        mid = self.edit.take()
        widgets = self.chat.messages()
        target = next((w for w in widgets if w.message and w.message.id == mid), None)
        before = widgets[widgets.index(target) - 1] if target and widgets.index(target) else None
        self.chat.truncate_after(before)
        self._widget("user").set_text(text, final=True)
        docs = self.memory_actions.documents_only
        self.engine.edit(conv_id(self), mid, text, docs, watch=self._begin)

    def stop(self) -> None:
        if self.streaming is not None:
            self.engine.stop(self.job)
            self.streaming.set_note("stopping…")
        elif self.edit.active:
            self.edit.cancel()
        elif self.sidebar.search.hasFocus():
            self.sidebar.search.clear()

    # -- engine signals (queued onto the GUI thread) -----------------------------------

    def _loaded(self, info: ModelInfo) -> None:
        if not self._warmed:
            # After the model load, not beside it: both hold the GIL in bursts.
            self._warmed = True
            threading.Thread(target=markdown_render.warm_up, name="warm-up", daemon=True).start()
        # The speech model loads right after the chat model, not behind memory
        # (idempotent: once per start).
        self.ptt.preload()
        self.messages.hide_banner("model")
        if self.streaming is not None:
            self.streaming.set_note("")
        self._update_buttons()

    def _load_failed(self, message: str) -> None:
        self.ptt.preload()
        self.messages.show_banner(
            f"{message}\nOpen Settings (Ctrl+,) to choose another model.", "model"
        )

    def _load_refused(self, message: str, kept: object) -> None:
        self.settings_actions.model_refused(message, kept)  # type: ignore[arg-type]

    # -- this window's answer (its own signals, queued onto the GUI thread) ------------

    def _chunk(self, text: str) -> None:
        if self.streaming is not None:
            self.streaming.append(text)
            self.status_line.answer_piece()

    def _notice(self, message: str) -> None:
        self.statusBar().showMessage(message, 8000)

    def _finished(self, _done: Done) -> None:
        self._end()

    def _failed(self, message: str) -> None:
        self.job = None
        self.statusBar().showMessage(message, 15000)
        self.status_line.answer_failed()
        if self.streaming is not None and not self.streaming.text:
            self.streaming.set_text(f"*{message}*", final=True)
        self.streaming = None
        self.sidebar.refresh()
        self._update_buttons()

    def _end(self) -> None:
        self.streaming = None
        self.job = None
        if self.conversation_id is not None:
            thread = self.transcript.rebind_tail()
            self._show_report(thread[-1] if thread else None)
        self.sidebar.refresh()
        self._update_buttons()

    def _update_buttons(self) -> None:
        self.buttons.update(self.streaming is not None, self.chat.messages())

    def closeEvent(self, event: QCloseEvent) -> None:
        """Stop a running answer (what was shown is saved as stopped), end the engine thread."""
        if self._keep_running():
            self.hide()
            event.ignore()
            return
        self.engine.stop(self.job)  # first: what was shown is saved as stopped, now
        self.voice.close()
        self.ptt.close()  # may wait a moment for the speech model's preload
        self.engine.close()
        event.accept()


def conv_id(window: MainWindow) -> int:
    assert window.conversation_id is not None
    return window.conversation_id
