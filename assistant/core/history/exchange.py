"""Export history to Markdown or JSON, and import it back from JSON.

The JSON form is lossless (every branch, every status and stat) and keyed by
stable uids, so importing the same file twice adds nothing the second time.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assistant.core.base.errors import HistoryError
from assistant.core.history.store import HistoryStore

FORMAT = "assistant-history"
FORMAT_VERSION = 1


def _iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat(timespec="seconds")


def _ts(value: Any, where: str) -> float:
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return dt.datetime.fromisoformat(value).timestamp()
        except ValueError:
            pass
    raise HistoryError(f"Import file: bad timestamp {value!r} in {where}.")


def export_json(store: HistoryStore, conversation_ids: list[int] | None = None) -> dict[str, Any]:
    if conversation_ids is None:
        convs = store.list_conversations()
    else:
        convs = [store.get_conversation(i) for i in conversation_ids]
    out = []
    for c in convs:
        msgs = store.messages(c.id)
        uid_of = {m.id: m.uid for m in msgs}
        out.append(
            {
                "uid": c.uid,
                "title": c.title,
                "system_prompt": c.system_prompt,
                "model": c.model,
                "pinned": c.pinned,
                "created_at": _iso(c.created_at),
                "updated_at": _iso(c.updated_at),
                "current_leaf": uid_of.get(c.current_leaf_id) if c.current_leaf_id else None,
                "messages": [
                    {
                        "uid": m.uid,
                        "parent": uid_of.get(m.parent_id) if m.parent_id else None,
                        "role": m.role,
                        "content": m.content,
                        "status": m.status,
                        "model": m.model,
                        "created_at": _iso(m.created_at),
                        "stats": m.stats or None,
                    }
                    for m in msgs
                ],
            }
        )
    return {"format": FORMAT, "version": FORMAT_VERSION, "conversations": out}


def export_markdown(store: HistoryStore, conversation_id: int) -> str:
    """The current branch of one conversation, readable anywhere."""
    c = store.get_conversation(conversation_id)
    lines = [f"# {c.title or 'Untitled conversation'}", ""]
    lines.append(f"*{_iso(c.created_at)}*" + (f" · model: {c.model}" if c.model else ""))
    lines.append("")
    if c.system_prompt:
        lines += ["> **System:** " + c.system_prompt.replace("\n", "\n> "), ""]
    thread, versions = store.branch(conversation_id)
    for m in thread:
        who = {"user": "You", "assistant": "Assistant"}.get(m.role, m.role.title())
        note = "" if m.status == "complete" else f" *({m.status})*"
        mine = versions.get(m.parent_id, [m.id])
        if len(mine) > 1:  # the JSON export has all of them
            note += f" *(version {mine.index(m.id) + 1} of {len(mine)})*"
        lines += [f"## {who}{note}", "", m.content, ""]
    return "\n".join(lines).rstrip() + "\n"


@dataclass
class ImportReport:
    imported: int = 0
    skipped: int = 0
    messages: int = 0


_ROLES = {"system", "user", "assistant"}
_STATUSES = {"complete", "stopped", "interrupted", "error"}


def import_json(store: HistoryStore, path: Path) -> ImportReport:
    """Add conversations from an export; ones already present (same uid) are skipped."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError as e:
        raise HistoryError(f"No such file: {path}.") from e
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise HistoryError(
            f"Cannot import {path}: not a readable JSON file ({e}).",
            "Use a file made by `assistant history export --format json`.",
        ) from e
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise HistoryError(
            f"Cannot import {path}: not an assistant history export.",
            "Use a file made by `assistant history export --format json`.",
        )
    if not isinstance(data.get("version"), int) or data["version"] > FORMAT_VERSION:
        raise HistoryError(
            f"Cannot import {path}: export format version {data.get('version')!r} is not supported.",
            "Update the assistant.",
        )
    convs = data.get("conversations")
    if not isinstance(convs, list):
        raise HistoryError(f"Cannot import {path}: 'conversations' must be a list.")
    # Validate everything before writing anything.
    for i, c in enumerate(convs):
        _validate_conversation(c, f"conversation #{i + 1}")
    report = ImportReport()
    if convs:
        store.backup_if_used("before-import")
    # Oldest first, so ids follow the original order.
    for c in sorted(convs, key=lambda c: _ts(c.get("created_at", 0), "conversation")):
        if store.find_conversation_uid(c["uid"]) is not None:
            report.skipped += 1
            continue
        with store.transaction():  # all of a conversation or none of it
            _import_one(store, c)
        report.imported += 1
        report.messages += len(c["messages"])
    return report


def _validate_conversation(c: Any, where: str) -> None:
    if not isinstance(c, dict) or not isinstance(c.get("uid"), str) or not c["uid"]:
        raise HistoryError(f"Import file: {where} has no uid.")
    msgs = c.get("messages")
    if not isinstance(msgs, list):
        raise HistoryError(f"Import file: {where} has no message list.")
    seen: set[str] = set()
    for j, m in enumerate(msgs):
        mw = f"{where}, message #{j + 1}"
        if not isinstance(m, dict) or not isinstance(m.get("uid"), str):
            raise HistoryError(f"Import file: {mw} has no uid.")
        if m.get("role") not in _ROLES:
            raise HistoryError(f"Import file: {mw} has unknown role {m.get('role')!r}.")
        if not isinstance(m.get("content"), str):
            raise HistoryError(f"Import file: {mw} has no text content.")
        if m.get("parent") is not None and m["parent"] not in seen:
            raise HistoryError(
                f"Import file: {mw} refers to a parent that comes later or is missing."
            )
        _ts(m.get("created_at", 0), mw)
        seen.add(m["uid"])


def _import_one(store: HistoryStore, c: dict[str, Any]) -> None:
    conv = store.create_conversation(
        title=str(c.get("title") or ""),
        system_prompt=c.get("system_prompt"),
        model=c.get("model"),
        uid=c["uid"],
        created_at=_ts(c.get("created_at", 0), "conversation") or None,
    )
    ids: dict[str, int] = {}
    for m in c["messages"]:
        status = m.get("status", "complete")
        msg = store.add_message(
            conv.id,
            m["role"],
            m["content"],
            parent_id=ids[m["parent"]] if m.get("parent") else None,
            status=status if status in _STATUSES else "interrupted",
            model=m.get("model"),
            stats=m.get("stats") if isinstance(m.get("stats"), dict) else None,
            uid=None if store.has_message_uid(m["uid"]) else m["uid"],
            created_at=_ts(m.get("created_at", 0), "message") or None,
        )
        ids[m["uid"]] = msg.id
    leaf = ids.get(c.get("current_leaf") or "") or (max(ids.values()) if ids else None)
    updated = _ts(c.get("updated_at", 0), "conversation") or conv.created_at
    store.update_conversation(
        conv.id, current_leaf_id=leaf, pinned=bool(c.get("pinned")), updated_at=updated
    )
