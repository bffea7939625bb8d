"""Which files under the folders the user added are documents to read, and which to skip.

Every file is a candidate, whatever its name: the readers decide by content
(``doc_text``). Symlinks are followed, but loops, broken links, unreadable
folders and files over the size cap come back with a reason instead of
stopping the walk. Hidden files and folders and tool folders (.git,
node_modules, __pycache__) are left out without a word: nobody means those.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterable, Iterator
from pathlib import Path

from assistant.core.base.files import size_text
from assistant.core.documents.text import HEAD_BYTES, binary_label

# Formats with a reader of their own, chosen by name; every other file is judged by content.
FORMAT_SUFFIXES = {".pdf": "pdf", ".docx": "docx", ".html": "html", ".htm": "html"}
# What the file picker offers first; any other file that holds text is read as well.
SUPPORTED_SUFFIXES = frozenset({*FORMAT_SUFFIXES, ".txt", ".md", ".markdown", ".gz"})
DEFAULT_MAX_BYTES = 50 * 1024 * 1024

_JUNK_DIRS = frozenset({"node_modules", "__pycache__", ".git"})


def iter_files(
    roots: Iterable[Path], max_bytes: int = DEFAULT_MAX_BYTES
) -> Iterator[tuple[Path, str | None]]:
    """Yield ``(file, None)`` to index and ``(path, reason)`` for skips worth telling.

    Symlinks are followed, but each real folder is walked once and each real file
    yielded once, so links can neither loop nor duplicate. Order is sorted by name.
    """
    seen: set[str] = set()  # real paths of folders walked and files yielded
    for root in roots:
        # An explicit stack (not recursion): a deep tree cannot hit the recursion limit.
        stack: list[tuple[str, Iterator[Path]]] = [("", iter([Path(root)]))]
        while stack:
            path = next(stack[-1][1], None)
            if path is None:
                stack.pop()
                continue
            is_root = len(stack) == 1
            if not is_root and (path.name.startswith(".") or path.name in _JUNK_DIRS):
                continue
            try:
                st = path.stat()  # follows symlinks
            except OSError as e:
                yield path, os_reason(e, path)  # a broken link too: it may have been a document
                continue
            real = os.path.realpath(path)
            if stat.S_ISDIR(st.st_mode):
                if any(real == ancestor for ancestor, _ in stack):
                    yield path, "symlink loop"
                elif real not in seen:  # else another link to a folder already walked
                    seen.add(real)
                    try:
                        with os.scandir(path) as it:
                            names = sorted(entry.name for entry in it)
                    except OSError as e:
                        yield path, os_reason(e, path)
                        continue
                    stack.append((real, iter([path / name for name in names])))
            elif real not in seen:
                seen.add(real)
                yield path, _skip_reason(path, st, max_bytes)


def _skip_reason(path: Path, st: os.stat_result, max_bytes: int) -> str | None:
    if not stat.S_ISREG(st.st_mode):
        return "not a regular file"  # a FIFO or device would hang or never end
    if st.st_size > max_bytes:
        # A film or a disk image is "not text", not something a higher limit would fix.
        label = None if path.suffix.lower() in FORMAT_SUFFIXES else _head_label(path)
        return f"not text ({label})" if label else too_large(st.st_size, max_bytes)
    return None if os.access(path, os.R_OK) else "permission denied"


def _head_label(path: Path) -> str | None:
    try:
        with path.open("rb") as f:
            return binary_label(f.read(HEAD_BYTES))
    except OSError:
        return None  # the size is reason enough


def os_reason(e: OSError, path: Path) -> str:
    if isinstance(e, PermissionError):
        return "permission denied"
    if e.errno == errno.ELOOP:
        return "symlink loop"
    if isinstance(e, FileNotFoundError):
        return "broken link" if path.is_symlink() else "not found"
    return e.strerror or type(e).__name__


def too_large(size: int, cap: int) -> str:
    return f"too large ({size_text(size)}; the limit is {size_text(cap)})"
