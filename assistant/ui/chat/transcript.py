"""Which messages the chat view shows, built without blocking the window.

Opening a conversation shows its newest messages at once and adds older ones
above them a few per event-loop turn; switching a branch rebuilds only what
follows the switched message, so the view stays where the user clicked.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QTimer

from assistant.core.history.store import HistoryStore, Message
from assistant.ui.chat.message_view import ChatView, MessageWidget

FIRST_PAINT = 3  # messages shown at once when a conversation opens
OLDER_BATCH = 1  # older messages added per event-loop turn after that (~10 ms each)

WidgetFactory = Callable[[str, bool], MessageWidget]  # (role, on top) -> widget


class Transcript:
    def __init__(self, view: ChatView, store: HistoryStore, make: WidgetFactory) -> None:
        self.view, self.store, self.make = view, store, make
        self.conversation_id: int | None = None
        self._generation = 0

    def show(self, conversation_id: int | None, focus: int | None = None) -> list[Message]:
        """Show the current branch; ``focus`` (a message id) is built at once and scrolled to."""
        self.view.clear()
        self._generation += 1
        self.conversation_id = conversation_id
        if conversation_id is None:
            return []
        thread, siblings = self.store.branch(conversation_id)
        pending = [(m, siblings[m.parent_id]) for m in thread]
        n_first = FIRST_PAINT
        if focus is not None:
            index = next((i for i, m in enumerate(thread) if m.id == focus), len(thread))
            n_first = max(FIRST_PAINT, len(thread) - index)
        target = None
        for m, sib in pending[-n_first:]:
            w = self.make(m.role, False)
            w.bind(m, sib)
            if m.id == focus:
                target = w
        if target is not None:
            QTimer.singleShot(0, lambda: self.view.show_widget(target))
        else:
            self.view.scroll_to_bottom()
        self._add_older(pending[:-n_first], self._generation)
        return thread

    def _add_older(self, older: list, generation: int) -> None:
        if not older or generation != self._generation:
            return
        batch, rest = older[-OLDER_BATCH:], older[:-OLDER_BATCH]
        for m, sib in reversed(batch):
            self.make(m.role, True).bind(m, sib)
        QTimer.singleShot(0, lambda: self._add_older(rest, generation))

    def replace_from(self, message_id: int) -> None:
        """After a branch switch at ``message_id``: keep what precedes it, rebuild the rest."""
        assert self.conversation_id is not None
        widgets = self.view.messages()
        thread, siblings = self.store.branch(self.conversation_id)
        parent = self.store.get_message(message_id).parent_id
        versions = set(siblings.get(parent, []))
        keep = next(
            (i for i, w in enumerate(widgets) if w.message and w.message.id in versions), None
        )
        if keep is None:
            self.show(self.conversation_id)
            return
        self.view.hold_position()
        self.view.truncate_after(widgets[keep - 1] if keep else None)
        self._generation += 1
        for m in thread[keep:]:
            self.make(m.role, False).bind(m, siblings[m.parent_id])

    def rebind_tail(self, count: int = 2) -> list[Message]:
        """Attach stored messages to the widgets just streamed (ids, branches, status)."""
        assert self.conversation_id is not None
        thread, siblings = self.store.branch(self.conversation_id)
        widgets = self.view.messages()
        if len(widgets) != len(thread):
            return self.show(self.conversation_id)
        for w, m in zip(widgets[-count:], thread[-count:], strict=False):
            w.bind(m, siblings[m.parent_id])
        return thread

    def mark_left_out(self, ids: set[int]) -> None:
        """Note on messages that were not in the model's context for the last answer."""
        for w in self.view.messages():
            if w.message is not None:
                w.set_left_out(w.message.id in ids)
