"""The window's menus and keyboard shortcuts."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMainWindow, QMenu, QToolButton


@dataclass(frozen=True)
class MenuActions:
    """What the menus do; the window hands its own methods and those of its helpers."""

    new_chat: Callable[[], None]
    search: Callable[[], None]
    focus_input: Callable[[], None]
    stop: Callable[[], None]
    regenerate: Callable[[], None]
    quit: Callable[[], None]
    memory_window: Callable[[], None]
    documents_window: Callable[[], None]
    documents_only: QToolButton  # the toggle under the chat; the menu item mirrors it
    inspector: QAction  # the inspector dock's show/hide action
    settings: Callable[[], None]
    persona: Callable[[], None]
    get_models: Callable[[], None]
    fill_models_menu: Callable[[QMenu], None]  # when the Model submenu opens


def build_menus(w: QMainWindow, do: MenuActions) -> QMenu:
    """Chat, Memory, View and Settings menus; returns the Model submenu (filled when opened)."""

    def act(
        menu: QMenu, text: str, slot: Callable, key: QKeySequence | str | None = None
    ) -> QAction:
        a = QAction(text, w)
        if key is not None:
            a.setShortcut(QKeySequence(key))
        # A lambda: `triggered` passes `checked`, which must not become an argument.
        a.triggered.connect(lambda _checked=False, f=slot: f())
        menu.addAction(a)
        w.addAction(a)  # shortcuts work while the menu bar is hidden too
        return a

    chat = w.menuBar().addMenu("&Chat")
    act(chat, "New chat", do.new_chat, QKeySequence.StandardKey.New)
    act(chat, "Search", do.search, QKeySequence.StandardKey.Find)
    act(chat, "Focus input", do.focus_input, "Ctrl+L")
    act(chat, "Stop answer", do.stop, "Esc")
    act(chat, "Regenerate", do.regenerate, "Ctrl+R")
    chat.addSeparator()
    act(chat, "Quit", do.quit, QKeySequence.StandardKey.Quit)
    memory = w.menuBar().addMenu("&Memory")
    act(memory, "What I know about you…", do.memory_window, "Ctrl+Shift+M")
    act(memory, "Documents…", do.documents_window, "Ctrl+Shift+D")
    docs = do.documents_only
    a = act(memory, "Answer from documents only", docs.toggle, "Ctrl+D")
    a.setCheckable(True)
    docs.toggled.connect(a.setChecked)
    view = w.menuBar().addMenu("&View")
    view.addAction(do.inspector)
    do.inspector.setShortcut(QKeySequence("Ctrl+I"))
    tools = w.menuBar().addMenu("&Settings")
    act(tools, "Settings…", do.settings, "Ctrl+,")
    act(tools, "Persona…", do.persona)
    act(tools, "Get models…", do.get_models, "Ctrl+Shift+G")
    models = tools.addMenu("Model")
    models.aboutToShow.connect(lambda: do.fill_models_menu(models))
    return models
