"""Nothing leaves the machine and nobody else can read it.

``harden_process()`` runs first thing in every entry point (CLI, window,
``serve``, the bundle all start in ``assistant.cli.main``), before any native
library loads:

- Telemetry off in the libraries that have it: onnxruntime (loaded by
  faster-whisper for its voice-activity model) otherwise writes a device id
  under ``~/.cache/Microsoft`` and, in a process that stays alive, sends events
  to Microsoft; chromadb (posthog), Hugging Face and anything honouring
  ``DO_NOT_TRACK`` are switched off too. The hub is never contacted at run time
  (``HF_HUB_OFFLINE``): model downloads make their own requests.
- The caches of libraries that would otherwise write into the user's home
  (Hugging Face, torch, matplotlib), and SQLite's temporary files, point into the
  app's cache folder.
- A umask of 077: every folder the app creates is 0700 and every file 0600
  (databases and their WAL/SHM, backups, logs, the index, exports, downloads),
  whatever the user's umask. ``secure_existing()`` tightens what an earlier
  version left readable.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

log = logging.getLogger(__name__)

# Forced, not defaults: "no data leaves the machine" is not a preference.
TELEMETRY_OFF = {
    "ORT_DISABLE_TELEMETRY": "1",  # onnxruntime (faster-whisper's VAD)
    "ANONYMIZED_TELEMETRY": "False",  # chromadb
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "HF_HUB_OFFLINE": "1",  # never fetch a model at run time (downloads make their own requests)
    "TRANSFORMERS_OFFLINE": "1",
    "DO_NOT_TRACK": "1",
    "GRADIO_ANALYTICS_ENABLED": "False",
}
PRIVATE_UMASK = 0o077


def harden_process(cache_dir: Path | None = None) -> None:
    """Telemetry off, library caches inside ours, owner-only files from now on."""
    os.environ.update(TELEMETRY_OFF)
    if hasattr(os, "umask"):
        os.umask(PRIVATE_UMASK)
    if cache_dir is not None:
        # SQLite's temporary files (chromadb's too) in our cache, not in /var/tmp.
        tmp = cache_dir / "tmp"
        try:
            tmp.mkdir(parents=True, exist_ok=True)
            os.environ["SQLITE_TMPDIR"] = str(tmp)
        except OSError:
            pass  # a read-only or full disk: SQLite keeps its default
        # Only where the user has not chosen a place (an existing HF cache is theirs).
        for var, sub in (
            ("HF_HOME", "huggingface"),
            ("TORCH_HOME", "torch"),
            ("MPLCONFIGDIR", "matplotlib"),
        ):
            os.environ.setdefault(var, str(cache_dir / sub))


def secure_existing(*roots: Path) -> int:
    """Remove group/other access from what the app keeps under ``roots``.

    Folders become 0700 and files lose their group/other bits. Links are not
    followed (a model linked in from elsewhere is the user's own file), and
    what belongs to someone else is left alone. Returns how many were changed.
    """
    if os.name != "posix":
        return 0
    uid = os.getuid()
    changed = 0
    for root in roots:
        try:
            st = os.lstat(root)
        except OSError:
            continue
        if not stat.S_ISDIR(st.st_mode):
            continue
        changed += _tighten(root, st, uid)
        for dirpath, dirnames, filenames in os.walk(root):
            for name in (*dirnames, *filenames):
                p = os.path.join(dirpath, name)
                try:
                    changed += _tighten(Path(p), os.lstat(p), uid)
                except OSError:
                    continue
    if changed:
        log.info("made %d file(s) and folder(s) readable by their owner only", changed)
    return changed


def _tighten(path: Path, st: os.stat_result, uid: int) -> int:
    if stat.S_ISLNK(st.st_mode) or st.st_uid != uid or not st.st_mode & 0o077:
        return 0
    mode = stat.S_IMODE(st.st_mode) & 0o700
    if stat.S_ISDIR(st.st_mode):
        mode = 0o700
    try:
        os.chmod(path, mode)
    except OSError:
        return 0
    return 1
