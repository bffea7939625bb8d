"""Models on disk: importing a local GGUF (checked before it is accepted) and
removing a downloaded or imported one."""

from __future__ import annotations

import logging
from pathlib import Path

from assistant.core.base.errors import ModelError
from assistant.core.base.files import atomic_copy, free_bytes, size_text
from assistant.core.engine import gguf_file

log = logging.getLogger(__name__)


def check_loadable(info: gguf_file.GGUFInfo) -> None:
    """Open the vocabulary only: a quick way for llama.cpp to refuse an unknown
    architecture before a multi-gigabyte file is copied or chosen."""
    from assistant.core.engine.llama_runtime import load_vocab_only

    load_vocab_only(info)


def check_template(info: gguf_file.GGUFInfo) -> None:
    """Render the file's chat template once, as the engine will: a template that runs
    code, or past its time and memory budget, is refused before the file is taken in."""
    from assistant.core.templates.chat_template import resolve

    template = info.chat_template
    if template:
        resolve(None, template, "", "").render([{"role": "user", "content": "hi"}])


def check_choice(path: str | Path | None) -> Path:
    """Everything a switch to ``path`` can be refused for before the working model is
    closed: missing, not a GGUF, truncated, an architecture llama.cpp lacks, a template
    that will not render. Returns the file that would load; raises ModelError."""
    from assistant.core.engine.model_path import resolve_model_path

    info = gguf_file.inspect(resolve_model_path(path))
    check_loadable(info)
    check_template(info)
    return info.path


def import_model(src: Path, models_dir: Path, copy: bool = True) -> tuple[Path, gguf_file.GGUFInfo]:
    try:
        info = gguf_file.inspect(src)  # missing, not GGUF, truncated: one clear ModelError
        check_loadable(info)
        check_template(info)
    except ModelError as e:  # their hints are about choosing a model, not importing one
        raise ModelError(
            f"Not imported: {e.message[0].lower()}{e.message[1:]}",
            "Import a GGUF chat model file from a trusted source.",
        ) from e
    models_dir.mkdir(parents=True, exist_ok=True)
    dest = models_dir / Path(src).name
    if dest.exists() and dest.resolve() == Path(src).resolve():
        return dest, info
    if dest.exists() or dest.is_symlink():
        raise ModelError(f"{dest.name} is already in {models_dir}.", "Remove it first, or rename.")
    if not copy:
        # A link in the models folder: listed, chosen and removed like the others,
        # while the file stays where it is.
        try:
            dest.symlink_to(Path(src).resolve())
        except OSError as e:  # e.g. Windows without the symlink privilege
            log.info("cannot link %s (%s); using it by its path", src, e)
            return Path(src).resolve(), info
        return dest, info
    need = Path(src).stat().st_size
    free = free_bytes(models_dir)
    if free is not None and need > free:
        raise ModelError(
            f"Not enough disk space to copy {dest.name} ({size_text(need)}, "
            f"{size_text(free)} free).",
            "Free some space, or import it with --link to use it where it is.",
        )
    atomic_copy(Path(src), dest)
    return dest, gguf_file.inspect(dest)


def remove_model(name: str, models_dir: Path) -> Path:
    """Delete a downloaded or copied model; for a linked one, only the link."""
    path = models_dir / name
    if Path(name).name != name or not (path.is_symlink() or path.is_file()):
        raise ModelError(
            f"No model called {name} in {models_dir}.",
            "See `assistant models list`; the starter model cannot be removed.",
        )
    path.unlink()
    return path
