"""Prompt inspector: what went into the model's context for the last answer."""

from __future__ import annotations

import html
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDockWidget, QLabel, QMainWindow, QVBoxLayout, QWidget

from assistant.core.base.errors import AssistantError
from assistant.core.history.store import HistoryStore

ROWS = [
    ("system_tokens", "System prompt"),
    ("context_tokens", "Recalled"),
    ("history_tokens", "Earlier messages"),
    ("message_tokens", "Your message"),
    ("template_tokens", "Chat template markers"),
]


class PromptInspector(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAccessibleName("Prompt inspector")
        lay = QVBoxLayout(self)
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setTextFormat(self.label.textFormat().RichText)
        lay.addWidget(self.label)
        lay.addStretch(1)
        self.show_report(None)

    def dock(self, window: QMainWindow) -> QDockWidget:
        """This inspector in a dock on ``window``'s right, hidden until asked for."""
        d = QDockWidget("Prompt inspector", window)
        d.setObjectName("inspector")
        d.setWidget(self)
        window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, d)
        d.hide()
        return d

    def show_report(
        self,
        report: dict[str, Any] | None,
        left_out: list[str] | None = None,
        recalled: list[dict[str, Any]] | None = None,
    ) -> None:
        if not report:
            self.label.setText("<i>Send a message to see what goes into the model's context.</i>")
            return
        total = report.get("total_tokens", 0)
        n_ctx = report.get("n_ctx", 0)
        rows = "".join(
            f"<tr><td>{name}</td><td align='right'>&nbsp;{report.get(key, 0):,}</td></tr>"
            for key, name in ROWS
            if report.get(key, 0) or key != "context_tokens"  # memories: only when used
        )
        dropped = report.get("dropped_ids") or []
        kept = report.get("kept_messages", 0)
        lines = [
            "<b>Last answer's prompt</b>",
            f"<table>{rows}<tr><td><b>Total</b></td><td align='right'>&nbsp;<b>{total:,}</b>"
            f"</td></tr></table>",
            f"Context window: {total:,} of {n_ctx:,} tokens used before the answer.",
            f"Messages included: {kept}.",
        ]
        if recalled:
            lines.append("<b>Recalled for this answer:</b>")
            lines += [f"&nbsp;&nbsp;• {html.escape(label)}" for label in recall_labels(recalled)]
        if dropped:
            lines.append(
                f"<b>{len(dropped)} earlier message(s) left out</b> to fit the context window "
                f"(oldest first; the system prompt is always kept; they are marked in the chat):"
            )
            for text in (left_out or [])[:10]:
                short = " ".join(text.split())
                short = short if len(short) <= 80 else short[:79] + "…"
                lines.append(f"&nbsp;&nbsp;• {html.escape(short)}")
            if len(left_out or []) > 10:
                lines.append(f"&nbsp;&nbsp;… and {len(left_out or []) - 10} more")
        else:
            lines.append("No messages were left out.")
        self.label.setText("<br>".join(lines))


def recall_labels(items: list[dict[str, Any]]) -> list[str]:
    """ "3 memories", "guide.pdf, page 2", "from conversation “Eggs”": where it came from."""
    n_mem = sum(i.get("kind") == "memory" for i in items)
    labels = [f"{n_mem} {'memory' if n_mem == 1 else 'memories'}"] if n_mem else []
    return labels + [i["label"] for i in items if i.get("kind") != "memory" and i.get("label")]


def left_out_texts(store: HistoryStore, report: dict[str, Any] | None) -> list[str]:
    """The messages a report says were left out of the context, as "Who: text" lines."""
    out = []
    for mid in ((report or {}).get("dropped_ids") or [])[:50]:
        try:
            m = store.get_message(mid)
        except AssistantError:  # deleted since
            continue
        out.append(f"{'You' if m.role == 'user' else 'Assistant'}: {m.content}")
    return out
