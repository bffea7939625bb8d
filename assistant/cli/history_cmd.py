"""`assistant history list|show|search|export|import|delete|backup|restore`."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import socket
import sys
from pathlib import Path

from assistant.cli import common
from assistant.core.base.errors import HistoryError
from assistant.core.base.files import atomic_write
from assistant.core.base.paths import Paths, get_paths
from assistant.core.history import backups, exchange


def register(sub: argparse._SubParsersAction) -> None:
    h = sub.add_parser("history", help="list, search, export and import conversations")
    hs = h.add_subparsers(dest="history_command", metavar="ACTION", required=True)

    p = hs.add_parser("list", help="recent conversations")
    p.add_argument("-n", "--limit", type=int, default=50)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_list)

    p = hs.add_parser("show", help="print one conversation (its current branch)")
    p.add_argument("id", type=int)
    p.add_argument("--json", action="store_true", help="every branch, as JSON")
    p.set_defaults(func=cmd_show)

    p = hs.add_parser("search", help="full-text search over all messages")
    p.add_argument("query", nargs="+")
    p.add_argument("-n", "--limit", type=int, default=20)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_search)

    p = hs.add_parser("export", help="export to Markdown or JSON")
    p.add_argument("--format", choices=["md", "json"], default="json")
    p.add_argument("--id", type=int, action="append", help="only this conversation (repeatable)")
    p.add_argument("-o", "--output", metavar="FILE", help="write here instead of stdout")
    p.set_defaults(func=cmd_export)

    p = hs.add_parser(
        "import", help="import a JSON export (conversations already here are skipped)"
    )
    p.add_argument("file")
    p.set_defaults(func=cmd_import)

    p = hs.add_parser("delete", help="delete a conversation")
    p.add_argument("id", type=int)
    p.set_defaults(func=cmd_delete)

    p = hs.add_parser("backup", help="copy the history database into the backups folder")
    p.set_defaults(func=cmd_backup)

    p = hs.add_parser(
        "restore",
        help="put a backup in place of the history database (the current file is kept aside)",
    )
    p.add_argument("file", nargs="?", help="a backup file (default: the newest good one)")
    p.add_argument("--list", action="store_true", help="list the backups and exit")
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    p.set_defaults(func=cmd_restore)


def _when(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M")


def cmd_list(args: argparse.Namespace) -> int:
    with common.open_store() as store:
        convs = store.list_conversations(limit=args.limit)
        if args.json:
            print(
                json.dumps(
                    [
                        {
                            "id": c.id,
                            "title": c.title,
                            "updated_at": c.updated_at,
                            "pinned": c.pinned,
                        }
                        for c in convs
                    ],
                    ensure_ascii=False,
                )
            )
            return 0
        if not convs:
            print("No conversations yet. Start one with `assistant chat`.")
        for c in convs:
            pin = "*" if c.pinned else " "
            print(f"{c.id:>6} {pin} {_when(c.updated_at)}  {c.title or '(untitled)'}")
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    with common.open_store() as store:
        if args.json:
            data = exchange.export_json(store, [args.id])
            print(json.dumps(data["conversations"][0], ensure_ascii=False, indent=2))
        else:
            sys.stdout.write(exchange.export_markdown(store, args.id))
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    with common.open_store() as store:
        hits = store.search(" ".join(args.query), limit=args.limit)
    if args.json:
        print(json.dumps([h.__dict__ for h in hits], ensure_ascii=False))
        return 0
    if not hits:
        print("No matches.")
    for h in hits:
        print(f"{h.conversation_id:>6}  {h.conversation_title or '(untitled)'}")
        print(f"        {h.role}: {' '.join(h.snippet.split())}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    with common.open_store() as store:
        if args.format == "json":
            text = json.dumps(exchange.export_json(store, args.id), ensure_ascii=False, indent=2)
        else:
            ids = args.id or [c.id for c in store.list_conversations()]
            text = "\n---\n\n".join(exchange.export_markdown(store, i) for i in ids)
    if args.output:
        try:  # all or nothing: a full disk leaves no empty or half-written export
            atomic_write(Path(args.output), text + "\n")
        except OSError as e:
            raise HistoryError(f"Cannot write {args.output}: {e.strerror}.") from e
        print(f"Exported to {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text + "\n")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    with common.open_store() as store:
        r = exchange.import_json(store, Path(args.file))
    print(
        f"Imported {r.imported} conversation(s), {r.messages} message(s); "
        f"skipped {r.skipped} already present."
    )
    return 0


def cmd_delete(args: argparse.Namespace) -> int:
    with common.open_store() as store:
        c = store.get_conversation(args.id)
        store.delete_conversation(c.id)
    print(f"Deleted conversation {c.id} ({c.title or 'untitled'}).")
    return 0


def cmd_backup(args: argparse.Namespace) -> int:
    with common.open_store() as store:
        print(store.backup())
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    paths = get_paths()
    found = backups.list_backups(paths.backups_dir)
    if args.list:
        if not found:
            print(f"No backups in {paths.backups_dir} yet ({WHEN_MADE}).")
        for b in found:
            print(f"{b.when}  {b.reason:<34} {b.size / 1e6:7.1f} MB  {b.path.name}")
        for f in backups.set_aside(paths.backups_dir):
            print(f"set aside by a restore (delete it when you no longer need it): {f.name}")
        return 0
    chosen = None
    if args.file:
        f = Path(args.file)
        if not f.is_absolute() and not f.exists():
            f = paths.backups_dir / f
        chosen = (
            backups.Backup(f, f.stat().st_mtime, "chosen", f.stat().st_size)
            if f.is_file()
            else None
        )
        if chosen is None:
            raise HistoryError(
                f"No backup file {args.file}.", "See `assistant history restore --list`."
            )
    elif not found:
        raise HistoryError(
            f"No backups in {paths.backups_dir} yet.", f"Backups are made {WHEN_MADE}."
        )
    if app_running(paths):
        raise HistoryError(
            "The assistant is running and has the history open.",
            "Quit it (tray → Quit), then restore.",
        )
    pick = chosen or backups.newest_good(paths.backups_dir)
    if pick is None:
        raise HistoryError(f"None of the backups in {paths.backups_dir} passes its check.")
    label = pick.path.name if chosen else f"the newest good backup (from {pick.when})"
    held = backups.summary(pick.path)
    label += f" ({held})" if held else ""
    if not args.yes:
        if not sys.stdin.isatty():
            raise HistoryError(
                f"Not replacing the history with {label} without confirmation.",
                "Add --yes to do it from a script.",
            )
        question = f"Replace the history with {label}? The current file is kept aside. [y/N] "
        if input(question).strip().lower() not in ("y", "yes"):
            print("Left the history as it was.")
            return 1
    done = backups.restore(paths.history_db, paths.backups_dir, pick)
    with common.open_store() as store:
        n = len(store.list_conversations())
    aside = f"; the file it replaced is {done.set_aside}" if done.set_aside else ""
    print(f"Restored the backup from {done.backup.when} ({n} conversations){aside}.")
    return 0


WHEN_MADE = "when you use the assistant and the newest is over an hour old, and before an import"


def app_running(paths: Paths) -> bool:
    """Whether a window (or `assistant gui`) of this data folder is running."""
    sock = paths.instance_socket
    if not hasattr(socket, "AF_UNIX") or not sock.exists():
        return False
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(1)
        try:
            s.connect(str(sock))
        except OSError:
            return False
    return True
