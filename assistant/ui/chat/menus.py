"""The window's menus and keyboard shortcuts."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMenu

if TYPE_CHECKING:
    from assistant.ui.chat.main_window import MainWindow


def build_menus(w: MainWindow) -> QMenu:
    """Chat, View and Settings menus; returns the Model submenu (filled when opened)."""

    def act(
        menu: QMenu, text: str, slot: Callable, key: QKeySequence | str | None = None
    ) -> QAction:
        a = QAction(text, w)
        if key is not None:
            a.setShortcut(QKeySequence(key))
        a.triggered.connect(slot)
        menu.addAction(a)
        w.addAction(a)  # shortcuts work while the menu bar is hidden too
        return a

    chat = w.menuBar().addMenu("&Chat")
    act(chat, "New chat", w.new_conversation, QKeySequence.StandardKey.New)
    act(chat, "Search", w.focus_search, QKeySequence.StandardKey.Find)
    act(chat, "Focus input", w.composer.setFocus, "Ctrl+L")
    act(chat, "Stop answer", w.stop, "Esc")
    act(chat, "Regenerate", w.regenerate, "Ctrl+R")
    chat.addSeparator()
    act(chat, "Quit", lambda: w.quit_app(), QKeySequence.StandardKey.Quit)
    memory = w.menuBar().addMenu("&Memory")
    act(memory, "What I know about you…", w.memory_actions.open_memory_window, "Ctrl+Shift+M")
    act(memory, "Documents…", w.memory_actions.open_documents_window, "Ctrl+Shift+D")
    docs = w.memory_actions.docs_btn
    a = act(memory, "Answer from documents only", docs.toggle, "Ctrl+D")
    a.setCheckable(True)
    docs.toggled.connect(a.setChecked)
    view = w.menuBar().addMenu("&View")
    view.addAction(w.inspector_dock.toggleViewAction())
    w.inspector_dock.toggleViewAction().setShortcut(QKeySequence("Ctrl+I"))
    tools = w.menuBar().addMenu("&Settings")
    act(tools, "Settings…", w.settings_actions.open_settings, "Ctrl+,")
    act(tools, "Persona…", w.settings_actions.edit_persona)
    act(tools, "Get models…", w.settings_actions.open_models_window, "Ctrl+Shift+G")
    models = tools.addMenu("Model")
    models.aboutToShow.connect(w.settings_actions.fill_models_menu)
    return models
