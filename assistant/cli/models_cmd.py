"""`assistant models catalog|info`: what to download, and what a GGUF file is."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

BADGE_MARK = {"fits": "✓ fits", "slow": "~ slow", "won't fit": "✗ won't fit"}


def register(sub: argparse._SubParsersAction) -> None:
    m = sub.add_parser("models", help="the model catalog and GGUF file details")
    ms = m.add_subparsers(dest="models_command", metavar="ACTION", required=True)
    c = ms.add_parser("catalog", help="curated models with a fit badge for this machine")
    c.add_argument("--json", action="store_true", help="entries, badges and the hardware as JSON")
    c.set_defaults(func=cmd_catalog)
    i = ms.add_parser("info", help="architecture, size, quantization, context and template")
    i.add_argument("file", type=Path, help="a .gguf file")
    i.add_argument("--json", action="store_true")
    i.set_defaults(func=cmd_info)


def cmd_catalog(args: argparse.Namespace) -> int:
    from assistant.core.catalog import gb, load_catalog, with_fit
    from assistant.core.hardware import detect

    hw = detect()
    rows = with_fit(load_catalog(), hw)
    if args.json:
        print(json.dumps({"hardware": hw.to_dict(), "models": rows}, indent=2))
        return 0
    gpu = ", ".join(f"{g.name} ({gb(g.vram_mb)})" for g in hw.gpus) or "no GPU found"
    print(f"This machine: {gb(hw.ram_mb)} RAM, {hw.cpu_cores} CPU cores, {gpu}\n")
    for r in rows:
        print(f"{BADGE_MARK[r['badge']]:<12} {r['id']:<34} {gb(r['size_mb']):>7}  {r['license']}")
        print(f"{'':<12} {r['summary']} ({r['reason']})")
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    from assistant.core.gguf_file import inspect

    info = inspect(args.file)
    data = {
        "path": str(info.path),
        "name": info.name,
        "architecture": info.architecture,
        "parameters": info.size_label or None,
        "quantization": info.quantization,
        "context_length": info.context_length,
        "file_size": info.file_size,
        "has_chat_template": info.chat_template is not None,
    }
    if args.json:
        data["chat_template"] = info.chat_template
        print(json.dumps(data, indent=2))
        return 0
    for key, value in data.items():
        print(f"{key.replace('_', ' '):>17}: {value if value is not None else '—'}")
    return 0
