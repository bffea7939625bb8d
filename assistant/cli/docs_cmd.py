"""`assistant docs add|list|remove|search|rescan`: the documents answers may come from."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from assistant.cli import common
from assistant.core.documents.store import ScanReport, plural


def register(sub: argparse._SubParsersAction) -> None:
    d = sub.add_parser("docs", help="local documents the assistant can answer from")
    ds = d.add_subparsers(dest="docs_command", metavar="ACTION", required=True)

    p = ds.add_parser(
        "add", help="add files or folders (any text file, pdf, docx, html, .gz) and index them"
    )
    p.add_argument("paths", nargs="+", type=Path)
    p.add_argument("--json", action="store_true", help="print the scan report as JSON")
    p.set_defaults(func=cmd_add)

    p = ds.add_parser("list", help="added files and folders, and what was skipped and why")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_list)

    p = ds.add_parser("remove", help="forget a file or folder (the files stay on disk)")
    p.add_argument("path", type=Path)
    p.set_defaults(func=cmd_remove)

    p = ds.add_parser("rescan", help="re-index what changed in the added files and folders")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_rescan)

    p = ds.add_parser("search", help="passages matching a question, best first")
    p.add_argument("query", nargs="+")
    p.add_argument("-n", "--limit", type=int, default=5)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_search)


def _progress(done: int, total: int, path: str) -> None:
    if sys.stderr.isatty():
        print(f"\r\033[K[{done}/{total}] {Path(path).name[:60]}", end="", file=sys.stderr)


def _report(report: ScanReport, as_json: bool) -> None:
    if sys.stderr.isatty():
        print("\r\033[K", end="", file=sys.stderr)
    if as_json:
        print(json.dumps(report.__dict__, ensure_ascii=False, indent=2))
        return
    print(report.summary())
    for path, reason in report.skipped:
        print(f"  skipped {path}: {reason}")


def cmd_add(args: argparse.Namespace) -> int:
    with common.open_memory() as mem:
        report = mem.add_documents(list(args.paths), _progress)
    _report(report, args.json)
    return 0


def cmd_rescan(args: argparse.Namespace) -> int:
    with common.open_memory() as mem:
        report = mem.rescan(_progress)
    _report(report, args.json)
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    with common.open_memory() as mem:
        sources, docs = mem.documents.sources(), mem.documents.documents()
    if args.json:
        print(
            json.dumps(
                {
                    "sources": [p for _, p in sources],
                    "documents": [d.__dict__ for d in docs],
                },
                ensure_ascii=False,
                indent=2,
            )
        )
        return 0
    if not sources:
        print("No documents yet: `assistant docs add FOLDER_OR_FILE`.")
        return 0
    for sid, root in sources:
        mine = [d for d in docs if d.source_id == sid]
        n_ok = sum(d.status == "indexed" for d in mine)
        print(f"{root}  ({n_ok} indexed, {len(mine) - n_ok} skipped)")
        for d in mine:
            if d.status == "indexed" and d.unembedded:
                print(
                    f"    {d.path}  ({plural(d.chunks, 'passage')}, {d.unembedded} found by "
                    "keyword only until embedded: `assistant docs rescan`)"
                )
            elif d.status == "indexed":
                print(f"    {d.path}  ({plural(d.chunks, 'passage')})")
            else:
                print(f"    {d.path}  skipped: {d.error}")
    return 0


def cmd_remove(args: argparse.Namespace) -> int:
    with common.open_memory() as mem:
        removed = mem.remove_documents(args.path)
    print(f"Removed {args.path} ({plural(len(removed), 'indexed document')}) from the index.")
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    query = " ".join(args.query)
    with common.open_memory() as mem:
        hits = mem.search(query, ("document",), args.limit)
    if args.json:
        print(json.dumps([h.to_dict() for h in hits], ensure_ascii=False, indent=2))
    elif not hits:
        print("Nothing in your documents matches that.")
    else:
        for h in hits:
            text = " ".join(h.text.split())
            print(f"{h.score:5.2f}  {h.label}\n       {text[:200]}")
    return 0
