"""Which GGUF file to open: a path, a folder of models, or the bundled starter."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from assistant.core.base import starter
from assistant.core.base.errors import ModelError

log = logging.getLogger(__name__)


def gguf_files(folder: Path) -> list[Path]:
    """Chat models in a folder (vision projectors and partial downloads left out)."""
    return sorted(
        p
        for p in folder.glob("*.gguf")
        if p.is_file() and not p.name.startswith(".") and "mmproj" not in p.name.lower()
    )


def resolve_model_path(path: str | Path | None) -> Path:
    """``path`` may be a file, a folder of models, or empty for the starter model."""
    if path in (None, ""):
        found = starter.CHAT.path()
        if found is None:
            where = "in this bundle" if getattr(sys, "frozen", False) else "installed"
            raise ModelError(
                f"No chat model yet: the starter model ({starter.CHAT.name}) is not {where}.",
                starter.install_hint(starter.CHAT),
            )
        return found
    p = Path(path).expanduser()
    if p.is_dir():
        return _first_usable(p)
    return p


def _first_usable(folder: Path) -> Path:
    """The first model in name order whose header checks out; broken ones are skipped."""
    from assistant.core.engine import gguf_file

    models = gguf_files(folder)
    if not models:
        raise ModelError(f"No .gguf models in {folder}.", "Add one, or point at a .gguf file.")
    problems = []
    for m in models:
        try:
            gguf_file.inspect(m)
        except ModelError as e:
            log.warning("skipping %s: %s", m.name, e.message)
            problems.append(m.name)
            continue
        if len(models) > 1:
            log.info("%d models in %s; using %s", len(models), folder, m.name)
        return m
    raise ModelError(
        f"None of the {len(models)} .gguf files in {folder} is usable ({', '.join(problems)}).",
        "Check them with `assistant doctor`, or point at one file.",
    )
