"""`assistant memory add|list|search|edit|accept|reject|history|forget|reindex`."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time

from assistant.cli import common
from assistant.core.base.errors import AssistantError
from assistant.core.documents.store import plural
from assistant.core.memory.store import Memory


def register(sub: argparse._SubParsersAction) -> None:
    m = sub.add_parser("memory", help="what the assistant remembers about you")
    ms = m.add_subparsers(dest="memory_command", metavar="ACTION", required=True)

    p = ms.add_parser("add", help='remember a fact ("I live in Lyon" is saved as "The user …")')
    p.add_argument("text", nargs="+")
    p.set_defaults(func=cmd_add)

    p = ms.add_parser("list", help="remembered facts, newest first")
    p.add_argument(
        "--status",
        choices=["active", "proposed", "superseded", "rejected", "all"],
        default="active",
        help="which ones (default: active; 'proposed' are waiting for you to accept)",
    )
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_list)

    p = ms.add_parser("search", help="find memories by meaning and keywords, best first")
    p.add_argument("query", nargs="+")
    p.add_argument("-n", "--limit", type=int, default=5)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_search)

    p = ms.add_parser("edit", help="correct a memory (the old wording stays in its history)")
    p.add_argument("id", type=int)
    p.add_argument("text", nargs="+")
    p.set_defaults(func=cmd_edit)

    for name, helptext in (("accept", "save a proposed memory"), ("reject", "drop a proposal")):
        p = ms.add_parser(name, help=helptext)
        p.add_argument("id", type=int)
        p.set_defaults(func=cmd_accept if name == "accept" else cmd_reject)

    p = ms.add_parser("history", help="a memory and the versions it replaced")
    p.add_argument("id", type=int)
    p.set_defaults(func=cmd_history)

    p = ms.add_parser("forget", help="delete a memory and its history, or everything")
    p.add_argument("id", type=int, nargs="?")
    p.add_argument("--all", action="store_true", help="forget every memory")
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    p.set_defaults(func=cmd_forget)

    p = ms.add_parser("reindex", help="rebuild the search index from the database")
    p.set_defaults(func=cmd_reindex)


def _when(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M")


def _line(m: Memory) -> str:
    flag = "" if m.status == "active" else f" [{m.status}]"
    source = f"  (from conversation {m.source_conversation_id})" if m.source_conversation_id else ""
    return f"{m.id:>5}  {m.text}{flag}{source}"


def _as_dict(m: Memory) -> dict:
    return {
        "id": m.id,
        "text": m.text,
        "status": m.status,
        "origin": m.origin,
        "conversation_id": m.source_conversation_id,
        "message_id": m.source_message_id,
        "superseded_by": m.superseded_by,
        "created_at": m.created_at,
        "updated_at": m.updated_at,
    }


def cmd_add(args: argparse.Namespace) -> int:
    with common.open_memory() as mem:
        m = mem.remember(" ".join(args.text))
        print(f"Saved #{m.id}: {m.text}")
        for old in mem.memories.history(m.id)[1:2]:
            print(f"  (replaces #{old.id}: {old.text})")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    with common.open_memory() as mem:
        status = None if args.status == "all" else args.status
        items = mem.memories.list(status)
    if args.json:
        print(json.dumps([_as_dict(m) for m in items], ensure_ascii=False, indent=2))
    elif not items:
        print("No memories yet. Say “remember that …” in a chat, or `assistant memory add`.")
    else:
        for m in items:
            print(_line(m))
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    query = " ".join(args.query)
    with common.open_memory() as mem:
        hits = mem.search(query, ("memory",), args.limit)
    if args.json:
        print(json.dumps([h.to_dict() for h in hits], ensure_ascii=False, indent=2))
    elif not hits:
        print("Nothing relevant remembered.")
    else:
        for h in hits:
            print(f"{h.score:5.2f}  #{h.id}  {h.text}")
    return 0


def cmd_edit(args: argparse.Namespace) -> int:
    with common.open_memory() as mem:
        m = mem.memories.edit(args.id, " ".join(args.text))
        if m.id == args.id:
            print(f"No change: #{m.id} already says that.")
        else:
            print(f"Saved #{m.id}: {m.text}  (replaces #{args.id})")
    return 0


def cmd_accept(args: argparse.Namespace) -> int:
    with common.open_memory() as service:
        mem = service.memories
        if mem.get(args.id).status == "active":
            print(f"Already saved: #{args.id}.")
            return 0
        m = mem.accept(args.id)
        print(f"Saved #{m.id}: {m.text}")
    return 0


def cmd_reject(args: argparse.Namespace) -> int:
    with common.open_memory() as mem:
        m = mem.memories.reject(args.id)
        print(f"Dropped #{m.id}: {m.text}")
    return 0


def cmd_history(args: argparse.Namespace) -> int:
    with common.open_memory() as service:
        mem = service.memories
        first = mem.get(args.id)
        if first.superseded_by:
            print(
                f"#{first.id} was replaced by #{first.superseded_by}: {mem.get(first.superseded_by).text}"
            )
        for m in mem.history(args.id):
            print(f"{_when(m.updated_at)}  {_line(m)}")
    return 0


def cmd_forget(args: argparse.Namespace) -> int:
    if (args.id is None) == (not args.all):
        raise AssistantError("Say which memory to forget.", "Give its id, or --all for everything.")
    with common.open_memory() as mem:
        if args.all:
            if not args.yes:
                if not sys.stdin.isatty():
                    raise AssistantError(
                        "Not forgetting everything without confirmation.",
                        "Add --yes to do it from a script.",
                    )
                question = "Forget everything the assistant knows about you? [y/N] "
                if input(question).strip().lower() not in ("y", "yes"):
                    print("Kept everything.")
                    return 1
            n = mem.forget_all()
            print(f"Forgot {plural(n, 'memory')}.")
            return 0
        ids = mem.forget(args.id)
        print(
            f"Forgot #{args.id}" + (f" and {len(ids) - 1} older versions." if len(ids) > 1 else ".")
        )
    return 0


def cmd_reindex(args: argparse.Namespace) -> int:
    with common.open_memory() as mem:
        t0 = time.perf_counter()
        print("Loading the embedding model…", file=sys.stderr)
        counts = mem.knowledge.reindex()
        kn = mem.knowledge
        assert kn.index is not None
        names = {
            "memories": "memories",
            "documents": "document passages",
            "conversations": "past questions",
        }
        sizes = ", ".join(f"{kn.index.count(c)} {names[c]}" for c in counts)
        print(f"Rebuilt the index in {time.perf_counter() - t0:.1f} s: {sizes}.")
    return 0
