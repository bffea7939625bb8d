"""`assistant doctor`: is everything the app needs in place?"""

from __future__ import annotations

import argparse
import ctypes.util
import importlib.util
import json
import sqlite3
import sys
from collections.abc import Callable

from assistant.core.base import starter
from assistant.core.base.errors import AssistantError, DiskFullError
from assistant.core.base.paths import get_paths
from assistant.core.config.settings import load_settings

Check = tuple[str, str, str]  # (status: ok|warn|fail, what, detail)


def register(sub: argparse._SubParsersAction) -> None:
    d = sub.add_parser("doctor", help="check the installation")
    d.add_argument("--quiet", action="store_true", help="print only problems")
    d.add_argument("--json", action="store_true")
    d.add_argument(
        "--install",
        action="store_true",
        help="only what setup installs (not your settings or data)",
    )
    d.set_defaults(func=cmd_doctor)


def _starter(m: starter.StarterModel) -> Callable[[], Check]:
    def check() -> Check:
        p = m.path()
        if p is None:
            return ("fail", f"starter {m.kind} model", f"missing. {starter.install_hint(m)}")
        return ("ok", f"starter {m.kind} model", f"{m.name}: {p}")

    return check


def _llama() -> Check:
    if importlib.util.find_spec("llama_cpp") is None:
        return ("fail", "llama-cpp-python", "not installed. Run `make run`.")
    from importlib.metadata import version

    from assistant.core.base.errors import ModelError
    from assistant.core.engine.llama_runtime import cpu_code

    try:
        code = cpu_code()
    except ModelError as e:
        return ("fail", "llama-cpp-python", str(e))
    return ("ok", "llama-cpp-python", f"{version('llama_cpp_python')}, CPU code {code}")


def _fts5() -> Check:
    try:
        sqlite3.connect(":memory:").execute("CREATE VIRTUAL TABLE t USING fts5(x)")
    except sqlite3.OperationalError:
        return ("fail", "SQLite FTS5", "this Python's SQLite lacks FTS5; history search needs it")
    return ("ok", "SQLite FTS5", sqlite3.sqlite_version)


def _settings() -> Check:
    try:
        load_settings()
    except AssistantError as e:
        return ("fail", "settings", str(e))
    f = get_paths().settings_file
    return ("ok", "settings", str(f) if f.exists() else f"defaults ({f} not written yet)")


def _chat_model() -> Check:
    """The model the app will actually open: settings, else the starter."""
    from assistant.core.engine import gguf_file
    from assistant.core.engine.model_path import resolve_model_path

    try:
        model = load_settings().model
        if model.remote_url:  # answers come from there; the local file is not opened
            return ("ok", "chat model", f"the server at {model.remote_url} (model.remote_url)")
        path = resolve_model_path(model.path)
        info = gguf_file.inspect(path)
    except AssistantError as e:
        return ("fail", "chat model", str(e))
    return ("ok", "chat model", f"{path.stem} ({info.architecture}, {info.quantization}): {path}")


def _history() -> Check:
    from assistant.core.history import backups
    from assistant.core.history.store import HistoryStore

    p = get_paths()
    found = backups.list_backups(p.backups_dir)
    if not p.history_db.exists() and not found:
        return ("ok", "history", f"{p.history_db} (created on first use)")
    try:
        with HistoryStore(p.history_db, p.backups_dir) as store:
            n = len(store.list_conversations())
    except AssistantError as e:
        return ("fail", "history", str(e))
    kept = f"; newest backup {found[0].when} ({len(found)} kept)" if found else ""
    return ("ok", "history", f"{n} conversation(s) in {p.history_db}{kept}")


def _memory() -> Check:
    from assistant.core.history.store import HistoryStore

    p = get_paths()
    if not p.history_db.exists():
        return ("ok", "memory", "nothing stored yet")
    try:
        with HistoryStore(p.history_db, p.backups_dir) as store:
            n_mem, n_docs, n_skip = store.fetch(
                "SELECT (SELECT COUNT(*) FROM memories WHERE status = 'active'),"
                " (SELECT COUNT(*) FROM documents WHERE status = 'indexed'),"
                " (SELECT COUNT(*) FROM documents WHERE status = 'skipped')"
            )[0]
    except AssistantError as e:
        return ("fail", "memory", str(e))
    skipped = f" ({n_skip} skipped: `assistant docs list`)" if n_skip else ""
    return ("ok", "memory", f"{n_mem} memories, {n_docs} documents{skipped}")


def _index() -> Check:
    """Opens the local index and queries it: a damaged one is reported, not called ok."""
    p = get_paths()
    folder = p.data_dir / "index"
    try:
        if load_settings().memory.chroma_url:
            return ("ok", "memory index", "on the Chroma server (memory.chroma_url)")
    except AssistantError:
        pass  # reported by the settings check
    if not (folder / "manifest.json").exists():
        return ("ok", "memory index", "not built yet (made at the first search)")
    from assistant.core.history.store import HistoryStore
    from assistant.core.memory.index_content import SOURCES, samples, take_index_lock
    from assistant.core.memory.vector_index import REPAIR_HINT, probe

    lock = None
    try:
        owned, lock = take_index_lock(p.data_dir)
        if not owned:
            return ("ok", "memory index", "in use by the running assistant (it checks it)")

        model = json.loads((folder / "manifest.json").read_text()).get("embedder", "")
        expected = None
        try:
            with HistoryStore(p.history_db, p.backups_dir) as store:
                expected = {c: samples(store, c, model) for c in SOURCES}
        except AssistantError:
            pass  # the history check reports it; the index is checked without samples
        counts = probe(folder, expected)
    except DiskFullError as e:
        return ("warn", "memory index", f"not checked: {e}")
    except AssistantError as e:
        return ("fail", "memory index", str(e))
    except ValueError:
        return ("fail", "memory index", f"{folder}/manifest.json is unreadable. {REPAIR_HINT}")
    except OSError as e:
        return ("warn", "memory index", f"cannot check {folder}: {e.strerror}")
    finally:
        if lock is not None:
            lock.close()
    total = ", ".join(f"{n} {c}" for c, n in counts.items()) or "empty"
    return ("ok", "memory index", f"{total}: {folder}")


def _data_dir() -> Check:
    from assistant.core.base.files import MB, free_bytes, is_disk_full

    p = get_paths()
    probe = p.data_dir / ".write-test"
    try:
        p.ensure()
        probe.write_text("ok")
    except OSError as e:
        if is_disk_full(e):
            return ("fail", "data folder", f"{p.data_dir}: the disk is full; free space")
        return ("fail", "data folder", f"{p.data_dir} is not writable: {e.strerror}")
    finally:
        probe.unlink(missing_ok=True)
    free = free_bytes(p.data_dir) or 0
    if free < 200 * MB:
        return ("warn", "data folder", f"{p.data_dir}: only {free / MB:.0f} MB free")
    return ("ok", "data folder", str(p.data_dir))


def _portaudio() -> Check:
    if ctypes.util.find_library("portaudio") is None:
        return ("warn", "PortAudio", "not found; voice input will be off (`make sysdeps`)")
    return ("ok", "PortAudio", "found")


def _speech_model() -> Check:
    """voice.model names a real CTranslate2 Whisper folder (without loading it)."""
    from assistant.core.voice.transcriber import Transcriber

    try:
        t = Transcriber(load_settings().voice)
        folder = t._folder()
    except AssistantError as e:
        return ("fail", "speech model", str(e))
    return ("ok", "speech model", f"{t.name}: {folder}")


def _microphone() -> Check:
    from assistant.core.voice.capture import input_devices

    try:
        names = input_devices()
        wanted = load_settings().voice.input_device
    except AssistantError as e:
        return ("warn", "microphone", str(e))
    if not names:
        return ("warn", "microphone", "none found; voice input needs one (and a sound server)")
    if wanted and wanted not in names and not (wanted.isdigit() and int(wanted) < len(names)):
        have = ", ".join(names)
        return ("warn", "microphone", f"voice.input_device '{wanted}' not found; have: {have}")
    detail = f"{wanted or 'system default'} ({len(names)} found: `assistant listen --devices`)"
    return ("ok", "microphone", detail)


CHECKS: list[Callable[[], Check]] = [
    *(_starter(m) for m in starter.ALL),
    _llama,
    _fts5,
    _settings,
    _chat_model,
    _history,
    _memory,
    _index,
    _data_dir,
    _portaudio,
    _speech_model,
    _microphone,
]


INSTALL_CHECKS: list[Callable[[], Check]] = [*(_starter(m) for m in starter.ALL), _llama, _fts5]


def cmd_doctor(args: argparse.Namespace) -> int:
    checks = INSTALL_CHECKS if args.install else CHECKS
    results = [c() for c in checks]
    if args.json:
        print(
            json.dumps([dict(zip(("status", "what", "detail"), r, strict=True)) for r in results])
        )
    else:
        for status, what, detail in results:
            if args.quiet and status == "ok":
                continue
            print(
                f"{status:>4}  {what}: {detail}", file=sys.stderr if status != "ok" else sys.stdout
            )
    return 1 if any(r[0] == "fail" for r in results) else 0
