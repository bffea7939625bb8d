"""The main window: conversations on the left, the chat in the middle, the
prompt inspector on the right. The model runs on the engine thread; this
class only reacts to its signals."""

from __future__ import annotations

import logging

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QDockWidget,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from assistant import __version__
from assistant.core.errors import AssistantError
from assistant.core.history import HistoryStore
from assistant.core.paths import Paths
from assistant.core.settings import Settings, save_settings
from assistant.core.types import Done
from assistant.ui.composer import Composer
from assistant.ui.dialogs import PersonaDialog, SettingsDialog
from assistant.ui.engine_worker import EngineThread
from assistant.ui.inspector import PromptInspector
from assistant.ui.message_view import ChatView, MessageWidget
from assistant.ui.sidebar import Sidebar

log = logging.getLogger(__name__)

FIRST_PAINT = 4  # messages shown at once when a conversation opens
OLDER_BATCH = 2  # older messages added per event-loop turn after that (~10 ms each)


class MainWindow(QMainWindow):
    def __init__(self, paths: Paths, settings: Settings, store: HistoryStore) -> None:
        super().__init__()
        self.paths, self.settings, self.store = paths, settings, store
        self.setWindowTitle("Assistant")
        self.resize(1100, 760)
        self.conversation_id: int | None = None
        self.editing_id: int | None = None
        self.streaming: MessageWidget | None = None
        self.model_info: dict = {}
        self._reload_generation = 0

        self.sidebar = Sidebar(store)
        self.chat = ChatView()
        self.banner = QLabel()
        self.banner.setWordWrap(True)
        self.banner.setStyleSheet("background:#fdecea; color:#611a15; padding:8px")
        self.banner.hide()
        self.edit_note = QLabel("Editing a message — Enter sends it as a new branch, Esc cancels")
        self.edit_note.setStyleSheet("color: gray")
        self.edit_note.hide()
        self.composer = Composer()
        self.send_btn = QPushButton("Send")
        self.send_btn.setAccessibleName("Send")
        self.stop_btn = QPushButton("Stop")
        self.stop_btn.setAccessibleName("Stop the answer")
        self.stop_btn.setToolTip("Stop (Esc)")
        self.stop_btn.hide()
        self.regen_btn = QPushButton("Regenerate")
        self.regen_btn.setAccessibleName("Regenerate the last answer")
        self.persona_btn = QPushButton("Persona…")
        self.persona_btn.setAccessibleName("Edit persona")

        buttons = QHBoxLayout()
        buttons.addWidget(self.persona_btn)
        buttons.addStretch(1)
        buttons.addWidget(self.regen_btn)
        buttons.addWidget(self.stop_btn)
        buttons.addWidget(self.send_btn)
        center = QWidget()
        col = QVBoxLayout(center)
        col.setContentsMargins(0, 0, 0, 6)
        col.addWidget(self.banner)
        col.addWidget(self.chat, 1)
        col.addWidget(self.edit_note)
        col.addWidget(self.composer)
        col.addLayout(buttons)
        split = QSplitter()
        split.addWidget(self.sidebar)
        split.addWidget(center)
        split.setStretchFactor(1, 1)
        split.setSizes([260, 840])
        self.setCentralWidget(split)

        self.inspector = PromptInspector()
        self.inspector_dock = QDockWidget("Prompt inspector", self)
        self.inspector_dock.setObjectName("inspector")
        self.inspector_dock.setWidget(self.inspector)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.inspector_dock)
        self.inspector_dock.hide()

        self.model_label = QLabel("Loading model…")
        self.speed_label = QLabel("")
        self.ctx_label = QLabel("")
        for w in (self.model_label, self.speed_label, self.ctx_label):
            w.setContentsMargins(8, 0, 8, 0)
            self.statusBar().addPermanentWidget(w)
        self._menus()

        self.sidebar.selected.connect(self.open_conversation)
        self.sidebar.new_requested.connect(self.new_conversation)
        self.sidebar.deleted.connect(self._deleted)
        self.composer.submitted.connect(self.submit)
        self.send_btn.clicked.connect(lambda: self.submit(self.composer.toPlainText().strip()))
        self.stop_btn.clicked.connect(self.stop)
        self.regen_btn.clicked.connect(self.regenerate)
        self.persona_btn.clicked.connect(self.edit_persona)

        self.engine = EngineThread(str(paths.history_db), str(paths.backups_dir), self)
        w = self.engine.worker
        w.loaded.connect(self._loaded)
        w.load_failed.connect(self._load_failed)
        w.chunk.connect(self._chunk)
        w.notice.connect(lambda _id, msg: self.statusBar().showMessage(msg, 8000))
        w.finished.connect(self._finished)
        w.failed.connect(self._failed)
        self.engine.load(settings)

        self.sidebar.refresh()
        convs = store.list_conversations(limit=1)
        if convs:
            self.open_conversation(convs[0].id)
        self._update_buttons()
        self.composer.setFocus()

    # -- menus and shortcuts ------------------------------------------------

    def _menus(self) -> None:
        def act(menu, text: str, slot, key: QKeySequence | str | None = None) -> QAction:
            a = QAction(text, self)
            if key is not None:
                a.setShortcut(QKeySequence(key))
            a.triggered.connect(slot)
            menu.addAction(a)
            self.addAction(a)
            return a

        chat = self.menuBar().addMenu("&Chat")
        act(chat, "New chat", self.new_conversation, QKeySequence.StandardKey.New)
        act(chat, "Search", self._focus_search, QKeySequence.StandardKey.Find)
        act(chat, "Focus input", self.composer.setFocus, "Ctrl+L")
        self.stop_action = act(chat, "Stop answer", self.stop, "Esc")
        act(chat, "Regenerate", self.regenerate, "Ctrl+R")
        chat.addSeparator()
        act(chat, "Quit", self.close, QKeySequence.StandardKey.Quit)
        view = self.menuBar().addMenu("&View")
        view.addAction(self.inspector_dock.toggleViewAction())
        self.inspector_dock.toggleViewAction().setShortcut(QKeySequence("Ctrl+I"))
        tools = self.menuBar().addMenu("&Settings")
        act(tools, "Settings…", self.open_settings, "Ctrl+,")
        act(tools, "Persona…", self.edit_persona)
        self.models_menu = tools.addMenu("Model")
        self.models_menu.aboutToShow.connect(self._fill_models_menu)

    def _focus_search(self) -> None:
        self.sidebar.search.setFocus()
        self.sidebar.search.selectAll()

    # -- conversations --------------------------------------------------------

    def new_conversation(self) -> None:
        if self.streaming is not None:
            return
        self.conversation_id = None
        self.chat.clear()
        self.inspector.show_report(None)
        self.sidebar.mark_current(None)
        self._cancel_edit()
        self.composer.setFocus()
        self._update_buttons()

    def open_conversation(self, cid: int) -> None:
        if self.streaming is not None:
            self.statusBar().showMessage("Stop the answer first to switch conversations.", 4000)
            self.sidebar.mark_current(self.conversation_id)
            return
        self.conversation_id = cid
        self._cancel_edit()
        self.sidebar.mark_current(cid)
        self.reload()

    def reload(self) -> None:
        """Rebuild the transcript of the current branch (on switches only, never per token).

        The newest messages appear at once; older ones are added above them a few
        per event-loop turn, so opening a long conversation never freezes the window.
        """
        self.chat.clear()
        self._reload_generation += 1
        if self.conversation_id is None:
            return
        thread = self.store.thread(self.conversation_id)
        siblings: dict[int | None, list[int]] = {}
        for m in self.store.messages(self.conversation_id):
            siblings.setdefault(m.parent_id, []).append(m.id)
        pending = [(m, siblings[m.parent_id]) for m in thread]
        first = pending[-FIRST_PAINT:]
        for m, sib in first:
            self._widget(m.role).bind(m, sib)
        self._show_last_report(thread)
        self._update_buttons()
        self.chat.scroll_to_bottom()
        self._add_older(pending[:-FIRST_PAINT], self._reload_generation)

    def _add_older(self, older: list, generation: int) -> None:
        if not older or generation != self._reload_generation:
            return
        batch, rest = older[-OLDER_BATCH:], older[:-OLDER_BATCH]
        for m, sib in reversed(batch):
            self._widget(m.role, top=True).bind(m, sib)
        QTimer.singleShot(0, lambda: self._add_older(rest, generation))

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
        return w

    def _deleted(self, cid: int) -> None:
        if cid == self.conversation_id:
            self.new_conversation()

    def switch_branch(self, message_id: int) -> None:
        if self.streaming is None:
            self.store.switch_branch(message_id)
            self.reload()

    def _show_last_report(self, thread) -> None:
        last = next((m for m in reversed(thread) if m.role == "assistant"), None)
        report = last.stats.get("prompt") if last else None
        self.inspector.show_report(report)
        if report:
            self.ctx_label.setText(f"context {report['total_tokens']:,}/{report['n_ctx']:,}")
        if last and last.stats.get("tokens_per_s"):
            self.speed_label.setText(f"{last.stats['tokens_per_s']:.1f} tok/s")

    # -- sending --------------------------------------------------------------

    def submit(self, text: str) -> None:
        if not text or self.streaming is not None:
            return
        if self.editing_id is not None:
            self._send_edit(text)
            return
        if self.conversation_id is None:
            conv = self.store.create_conversation(
                system_prompt=self.settings.chat.system_prompt,
                model=self.model_info.get("name"),
            )
            self.conversation_id = conv.id
            self.sidebar.mark_current(conv.id)
        self.composer.clear()
        self._widget("user").set_text(text, final=True)
        self._begin(self.engine.submit("send", self.conversation_id, text))

    def _begin(self, _job) -> None:
        self.streaming = self._widget("assistant")
        self.streaming.set_text("", final=True)
        if not self.model_info:
            self.streaming.set_note("waiting for the model to load…")
        self.chat.scroll_to_bottom()
        self._update_buttons()

    def regenerate(self) -> None:
        if self.streaming is not None or self.conversation_id is None:
            return
        widgets = self.chat.messages()
        if not any(w.role == "user" for w in widgets):
            return
        if widgets and widgets[-1].role == "assistant":
            self.chat.truncate_after(widgets[-2] if len(widgets) > 1 else None)
        self._begin(self.engine.submit("regenerate", self.conversation_id))

    def start_edit(self, message_id: int) -> None:
        if self.streaming is not None:
            return
        self.editing_id = message_id
        self.composer.setPlainText(self.store.get_message(message_id).content)
        self.edit_note.show()
        self.composer.setFocus()

    def _cancel_edit(self) -> None:
        if self.editing_id is not None:
            self.editing_id = None
            self.composer.clear()
        self.edit_note.hide()

    def _send_edit(self, text: str) -> None:
        mid = self.editing_id
        assert mid is not None and self.conversation_id is not None
        self.editing_id = None
        self.edit_note.hide()
        self.composer.clear()
        widgets = self.chat.messages()
        target = next((w for w in widgets if w.message and w.message.id == mid), None)
        before = widgets[widgets.index(target) - 1] if target and widgets.index(target) else None
        self.chat.truncate_after(before)
        self._widget("user").set_text(text, final=True)
        self._begin(self.engine.submit("edit", self.conversation_id, text, mid))

    def stop(self) -> None:
        if self.streaming is not None:
            self.engine.stop()
        elif self.editing_id is not None:
            self._cancel_edit()

    # -- engine signals -----------------------------------------------------------

    def show_banner(self, text: str, kind: str) -> None:
        self._banner_kind = kind
        self.banner.setText(text)
        self.banner.show()

    def hide_banner(self, kind: str) -> None:
        if getattr(self, "_banner_kind", None) == kind:
            self.banner.hide()

    def _loaded(self, info: dict) -> None:
        self.model_info = info
        self.hide_banner("model")
        self.model_label.setText(f"{info['name']} · {info['threads']} threads")
        self.ctx_label.setText(f"context 0/{info['n_ctx']:,}")
        if self.streaming is not None:
            self.streaming.set_note("")
        self._update_buttons()

    def _load_failed(self, message: str) -> None:
        self.model_info = {}
        self.model_label.setText("No model loaded")
        self.show_banner(f"{message}\nOpen Settings (Ctrl+,) to choose another model.", "model")

    def _chunk(self, _job: int, text: str) -> None:
        if self.streaming is not None:
            self.streaming.append(text)

    def _finished(self, _job: int, done: Done) -> None:
        s = done.stats
        self.speed_label.setText(f"{s.tokens_per_s:.1f} tok/s")
        if done.prompt is not None:
            self.ctx_label.setText(f"context {done.prompt.total_tokens:,}/{done.prompt.n_ctx:,}")
            self.inspector.show_report(done.prompt.to_dict())
        self._end()

    def _failed(self, _job: int, message: str) -> None:
        self.statusBar().showMessage(message, 15000)
        if self.streaming is not None and not self.streaming.text:
            self.streaming.set_text(f"*{message}*", final=True)
        self._end(reload=False)

    def _end(self, reload: bool = True) -> None:
        self.streaming = None
        if reload and self.conversation_id is not None:
            self._rebind_tail()
        self.sidebar.refresh()
        self._update_buttons()

    def _rebind_tail(self) -> None:
        """Attach the stored messages to the widgets just streamed (ids, branches, status)."""
        assert self.conversation_id is not None
        thread = self.store.thread(self.conversation_id)
        widgets = self.chat.messages()
        if len(widgets) != len(thread):
            self.reload()
            return
        for w, m in zip(widgets[-2:], thread[-2:], strict=False):
            w.bind(m, [s.id for s in self.store.siblings(m.id)])

    def _update_buttons(self) -> None:
        busy = self.streaming is not None
        self.stop_btn.setVisible(busy)
        self.send_btn.setVisible(not busy)
        widgets = self.chat.messages()
        can_regen = not busy and any(w.role == "user" for w in widgets)
        self.regen_btn.setEnabled(can_regen)
        for w in widgets:
            w.edit_btn.setEnabled(not busy)
            w.regen_btn.setVisible(False)
        if widgets and widgets[-1].role == "assistant" and can_regen:
            widgets[-1].regen_btn.setVisible(True)

    # -- settings and personas -------------------------------------------------------

    def open_settings(self) -> None:
        dlg = SettingsDialog(self.settings, self)
        if not dlg.exec() or dlg.result_settings is None:
            return
        new = dlg.result_settings
        reload_model = new.model != self.settings.model
        self._save(new)
        if reload_model:
            self.model_label.setText("Loading model…")
            self.model_info = {}
            self.engine.load(new)

    def _fill_models_menu(self) -> None:
        """The starter model, GGUFs next to the current one, and a file chooser."""
        from pathlib import Path

        from PySide6.QtWidgets import QFileDialog

        from assistant.core import starter
        from assistant.core.models import gguf_files

        menu = self.models_menu
        menu.clear()
        current = self.model_info.get("path")
        choices: list[tuple[str, str | None]] = [(f"Starter: {starter.CHAT.name}", None)]
        if self.settings.model.path:
            folder = Path(self.settings.model.path).expanduser()
            folder = folder if folder.is_dir() else folder.parent
            if folder.is_dir():
                choices += [(p.name, str(p)) for p in gguf_files(folder)]
        for label, path in choices:
            a = menu.addAction(label, lambda p=path: self.choose_model(p))
            a.setCheckable(True)
            starter_path = starter.CHAT.path()
            a.setChecked(current == (path or (str(starter_path) if starter_path else None)))
        menu.addSeparator()

        def browse() -> None:
            path, _ = QFileDialog.getOpenFileName(self, "Choose a model", "", "GGUF (*.gguf)")
            if path:
                self.choose_model(path)

        menu.addAction("Choose a GGUF file…", browse)

    def choose_model(self, path: str | None) -> None:
        new = self.settings.model_copy(deep=True)
        new.model.path = path
        if new.model == self.settings.model:
            return
        self._save(new)
        self.model_label.setText("Loading model…")
        self.model_info = {}
        self.engine.load(new)

    def edit_persona(self) -> None:
        current = self.settings.chat.system_prompt
        if self.conversation_id is not None:
            current = self.store.get_conversation(self.conversation_id).system_prompt or ""
        dlg = PersonaDialog(current, self.settings, self)
        if not dlg.exec():
            return
        if self.conversation_id is not None:
            self.store.update_conversation(self.conversation_id, system_prompt=dlg.prompt())
        self._save(dlg.updated_settings())

    def _save(self, new: Settings) -> None:
        try:
            save_settings(new, self.paths)
        except (OSError, AssistantError) as e:
            self.statusBar().showMessage(f"Could not save settings: {e}", 10000)
            return
        self.settings = new
        self.engine.request_settings.emit(new)

    # -- closing -------------------------------------------------------------

    def closeEvent(self, event: QCloseEvent) -> None:
        """Stop a running answer (its text is saved as stopped), then end the engine thread."""
        self.engine.close()
        event.accept()

    def about(self) -> str:
        return f"Assistant {__version__}"
