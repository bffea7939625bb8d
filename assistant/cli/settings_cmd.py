"""`assistant settings show|path|set|reset`."""

from __future__ import annotations

import argparse
import json
import shutil
import time

from assistant.core.base.paths import get_paths
from assistant.core.config.settings import (
    Settings,
    load_settings,
    parse_value,
    save_settings,
    set_value,
)


def register(sub: argparse._SubParsersAction) -> None:
    s = sub.add_parser("settings", help="show or change settings")
    ss = s.add_subparsers(dest="settings_command", metavar="ACTION", required=True)
    ss.add_parser("show", help="print all settings as JSON").set_defaults(func=cmd_show)
    ss.add_parser("path", help="print where settings and data live").set_defaults(func=cmd_path)
    p = ss.add_parser("set", help="set one value, e.g. `settings set generation.temperature 0.2`")
    p.add_argument("key")
    p.add_argument("value")
    p.set_defaults(func=cmd_set)
    p = ss.add_parser("reset", help="back to defaults (the old file is kept as a backup)")
    p.set_defaults(func=cmd_reset)


def cmd_show(args: argparse.Namespace) -> int:
    print(json.dumps(load_settings().model_dump(mode="json"), indent=2))
    return 0


def cmd_path(args: argparse.Namespace) -> int:
    p = get_paths()
    print(f"settings: {p.settings_file}\nhistory:  {p.history_db}")
    print(f"backups:  {p.backups_dir}\nlogs:     {p.logs_dir}")
    return 0


def cmd_set(args: argparse.Namespace) -> int:
    new = set_value(load_settings(), args.key, parse_value(args.value))
    path = save_settings(new)
    print(f"{args.key} saved to {path}")
    return 0


def cmd_reset(args: argparse.Namespace) -> int:
    paths = get_paths()
    f = paths.settings_file
    if f.exists():
        backup = f.with_name(f"settings-{time.strftime('%Y%m%d-%H%M%S')}.json.bak")
        shutil.copy2(f, backup)
        print(f"Old settings kept in {backup}")
    save_settings(Settings(), paths)
    print(f"Defaults written to {f}")
    return 0
