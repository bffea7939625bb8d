"""`assistant models catalog|download|list|import|remove|info|settings`: what to download,
getting it, what is here, what a GGUF file is, and one model's own settings."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from assistant.core.base.files import size_text


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
    register_downloads(ms)
    register_files(ms)
    register_settings(ms)


def cmd_catalog(args: argparse.Namespace) -> int:
    from assistant.core.models.catalog import BADGE_TEXT, gb, load_catalog, with_fit
    from assistant.core.models.hardware import detect

    hw = detect()
    rows = with_fit(load_catalog(), hw)
    if args.json:
        models = [r.to_dict() for r in rows]
        print(json.dumps({"hardware": hw.to_dict(), "models": models}, indent=2))
        return 0
    gpu = ", ".join(f"{g.name} ({gb(g.vram_mb)})" for g in hw.gpus) or "no GPU found"
    print(f"This machine: {gb(hw.ram_mb)} RAM, {hw.cpu_cores} CPU cores, {gpu}\n")
    for r in rows:
        e = r.entry
        print(f"{BADGE_TEXT[r.fit.badge]:<12} {e.id:<34} {gb(e.size_mb):>7}  {e.license}")
        print(f"{'':<12} {e.summary} ({r.fit.reason})")
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    from assistant.core.engine.gguf_file import inspect

    info = inspect(args.file)
    data = {
        "path": str(info.path),
        "name": info.name,
        "architecture": info.architecture,
        "parameters": info.size_label or None,
        "quantization": info.quantization,
        "context_length": info.context_length,
        "file_size": info.file_size,  # bytes; shown in GB below
        "has_chat_template": info.chat_template is not None,
    }
    own = _own_settings(info.path.name)
    if args.json:
        data["chat_template"] = info.chat_template
        data["own_settings"] = own
        print(json.dumps(data, indent=2))
        return 0
    data["file_size"] = size_text(info.file_size)
    for key, value in data.items():
        print(f"{key.replace('_', ' '):>17}: {value if value is not None else '—'}")
    if own:
        shown = ", ".join(f"{k} {_show(k, v)}" for k, v in own.items())
        print(f"{'own settings':>17}: {shown}")
    return 0


def register_downloads(ms: argparse._SubParsersAction) -> None:
    d = ms.add_parser("download", help="download a catalog model (resumes, verifies sha256)")
    d.add_argument("id", help="a catalog id (see `assistant models catalog`)")
    d.add_argument("--use", action="store_true", help="make it the chat model afterwards")
    d.set_defaults(func=cmd_download)
    ls = ms.add_parser("list", help="the models on this machine")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=cmd_list)


def cmd_download(args: argparse.Namespace) -> int:
    import sys
    import time

    from assistant.core.base.errors import AssistantError
    from assistant.core.base.paths import get_paths
    from assistant.core.models.catalog import load_catalog
    from assistant.core.models.downloads import download

    entry = next((e for e in load_catalog() if e.id == args.id), None)
    if entry is None:
        raise AssistantError(
            f"No model '{args.id}' in the catalog.", "See `assistant models catalog` for the ids."
        )
    last = [0.0]

    def progress(done: int, total: int) -> None:
        now = time.monotonic()
        if now - last[0] >= 0.5 or done == total:
            last[0] = now
            print(
                f"\r{entry.file}: {done * 100 // total:3d}% "
                f"({done / 2**20:,.0f} of {total / 2**20:,.0f} MB)",
                end="",
                file=sys.stderr,
                flush=True,
            )

    models_dir = get_paths().models_dir
    final = models_dir / entry.file
    if final.exists():
        print(f"Already here: {final} (remove it with `assistant models remove` to fetch again)")
        if args.use:
            _use(final)
        return 0
    part = final.with_name(final.name + ".part")
    if part.exists():
        print(f"Resuming after {part.stat().st_size / 2**20:,.0f} MB.", file=sys.stderr)
    try:
        path = download(
            entry.repo, entry.file, models_dir, pinned_sha256=entry.sha256, progress=progress
        )
    except KeyboardInterrupt:
        kept = part.stat().st_size / 2**20 if part.exists() else 0
        print(
            f"\nStopped with {kept:,.0f} MB kept: run the same command to resume.", file=sys.stderr
        )
        return 130
    except AssistantError:
        print("", file=sys.stderr)  # the message starts on its own line, not after the bar
        raise
    print("", file=sys.stderr)
    print(f"Downloaded and verified: {path}")
    if args.use:
        _use(path)
    else:
        print(f"Use it with: assistant settings set model.path {path}")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from assistant.core.base import starter
    from assistant.core.base.paths import get_paths
    from assistant.core.config.settings import load_settings
    from assistant.core.engine.model_path import gguf_files

    settings = load_settings()
    current, remote = settings.model.path, settings.model.remote_url
    found = gguf_files(get_paths().models_dir) if get_paths().models_dir.is_dir() else []
    rows = [{"path": str(p), "size": p.stat().st_size, "starter": False} for p in found]
    sp = starter.CHAT.path()
    if sp is not None:
        rows.insert(0, {"path": str(sp), "size": sp.stat().st_size, "starter": True})
    for r in rows:
        local = (current == r["path"]) or (not current and r["starter"])
        r["in_use"] = local and not remote
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    for r in rows:
        mark = "*" if r["in_use"] else " "
        tag = " (starter)" if r["starter"] else ""
        print(f"{mark} {Path(r['path']).name}{tag}  {size_text(r['size'])}  {r['path']}")
    if remote:
        print(f"* answers come from the server at {remote} (model.remote_url)")
    return 0


def register_files(ms: argparse._SubParsersAction) -> None:
    im = ms.add_parser("import", help="copy a local GGUF into the models folder (checked first)")
    im.add_argument("file", type=Path)
    im.add_argument("--link", action="store_true", help="use it where it is instead of copying")
    im.add_argument("--use", action="store_true", help="make it the chat model")
    im.set_defaults(func=cmd_import)
    rm = ms.add_parser("remove", help="delete a downloaded or imported model")
    rm.add_argument("name", help="its file name (see `assistant models list`)")
    rm.set_defaults(func=cmd_remove)


def cmd_import(args: argparse.Namespace) -> int:
    from assistant.core.base.paths import get_paths
    from assistant.core.models.model_files import import_model

    path, info = import_model(args.file, get_paths().models_dir, copy=not args.link)
    params = f", {info.size_label}" if info.size_label else ""
    verb = "Linked" if path.is_symlink() else "Imported"
    print(f"{verb} {path.name}: {info.architecture}{params}, {info.quantization}, ", end="")
    print(
        f"context {info.context_length or '?'}, chat template: {'yes' if info.chat_template else 'no'}"
    )
    if args.use:
        _use(path)
    return 0


def cmd_remove(args: argparse.Namespace) -> int:
    from assistant.core.base.paths import get_paths
    from assistant.core.config.settings import load_settings, save_settings, set_value
    from assistant.core.models.model_files import remove_model

    linked = (get_paths().models_dir / args.name).is_symlink()
    path = remove_model(args.name, get_paths().models_dir)
    print(
        f"Removed the link {path} (the file it pointed to is kept)" if linked else f"Deleted {path}"
    )
    settings = load_settings()
    settings.model.per_model.pop(path.name, None)  # its own settings go with it
    if settings.model.path and Path(settings.model.path) == path:
        settings = set_value(settings, "model.path", None)
        print("It was the chat model; the starter model is used until you pick another.")
    save_settings(settings)
    return 0


def _use(path: Path) -> None:
    from assistant.core.config.settings import load_settings, save_settings, use_local_model

    settings, remote = use_local_model(load_settings(), str(path))
    save_settings(settings)
    print("It is now the chat model.")
    if remote:
        print(f"model.remote_url ({remote}) was cleared: answers come from this model now.")


OPTIONS = {  # flag -> ModelOverrides field
    "context": "n_ctx",
    "threads": "n_threads",
    "gpu_layers": "n_gpu_layers",
    "chat_template": "chat_template",
}


def register_settings(ms: argparse._SubParsersAction) -> None:
    st = ms.add_parser(
        "settings",
        help="one model's own context, threads, GPU layers and chat template",
        description="Values given here apply to this model only; the model.* settings "
        "apply to the others. 'default' puts one value back to model.*.",
    )
    st.add_argument("name", help="the model's file name or path (see `assistant models list`)")
    st.add_argument("--context", metavar="TOKENS", help="context window")
    st.add_argument("--threads", metavar="N", help="CPU threads")
    st.add_argument("--gpu-layers", metavar="N", help="layers on the GPU; -1 = all, 0 = CPU")
    st.add_argument("--chat-template", metavar="T", help="'chatml' or Jinja template text")
    st.add_argument("--reset", action="store_true", help="forget all of this model's own values")
    st.add_argument("--json", action="store_true")
    st.set_defaults(func=cmd_settings)


def cmd_settings(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from assistant.core.base.errors import SettingsError
    from assistant.core.config.settings import ModelOverrides, load_settings, save_settings

    name = Path(args.name).name
    settings = load_settings()
    own = settings.model.per_model.get(name, ModelOverrides()).model_dump()
    changes = {f: getattr(args, flag) for flag, f in OPTIONS.items()}
    changes = {f: v for f, v in changes.items() if v is not None}
    if args.reset:
        own = dict.fromkeys(own)
    for field, text in changes.items():
        own[field] = None if text.strip().lower() in ("default", "") else text
    if args.reset or changes:
        try:
            settings.model.per_model[name] = ModelOverrides.model_validate(own)
            settings = settings.model_validate(settings.model_dump())
        except ValidationError as e:
            first = e.errors()[0]
            flag = next(k for k, f in OPTIONS.items() if f == first["loc"][-1])
            raise SettingsError(
                f"Invalid --{flag.replace('_', '-')} {own[first['loc'][-1]]!r}: "
                f"{str(first['msg']).removeprefix('Value error, ')}.",
                "Or 'default' to use model.chat_template."
                if flag == "chat_template"
                else "Give a number, or 'default' to use the model.* setting.",
            ) from e
        save_settings(settings)
    effective = settings.model.for_file(name)
    mine = settings.model.per_model.get(name)
    rows = {
        f: {
            "value": getattr(effective, f),
            "own": mine is not None and getattr(mine, f) is not None,
        }
        for f in OPTIONS.values()
    }
    if args.json:
        print(json.dumps({"name": name, "settings": rows}, indent=2))
        return 0
    print(f"{name}:")
    for flag, f in OPTIONS.items():
        value = rows[f]["value"]
        where = "this model" if rows[f]["own"] else f"model.{f}"
        print(f"  {flag.replace('_', ' '):>13}: {_show(f, value)}  ({where})")
    if changes or args.reset:
        print("A running window reloads the model when it is the one in use.")
        if not _known_model(name, settings.model.path):
            print(f"Note: no model called {name} is here yet; these apply once one is.")
        cores = os.cpu_count() or 1
        if effective.n_threads and effective.n_threads > cores:
            print(f"Note: this computer has {cores} CPU threads; more than that is slower.")
    return 0


def _known_model(name: str, current: str | None) -> bool:
    from assistant.core.base import starter
    from assistant.core.base.paths import get_paths

    starter_path = starter.CHAT.path()
    names = {starter_path.name if starter_path else "", Path(current).name if current else ""}
    return name in names or (get_paths().models_dir / name).exists()


def _own_settings(name: str) -> dict:
    from assistant.core.base.errors import AssistantError
    from assistant.core.config.settings import load_settings

    try:
        own = load_settings().model.per_model.get(name)
    except AssistantError:
        return {}
    return own.model_dump(exclude_none=True) if own else {}


def _show(field: str, value: object) -> str:
    if value is None:
        return {"n_threads": "automatic", "chat_template": "from the model file"}.get(field, "—")
    if field == "n_gpu_layers" and value == -1:
        return "all (-1)"
    text = " ".join(str(value).split())
    return text if len(text) <= 40 else f"{text[:37]}…"
