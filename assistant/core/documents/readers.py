"""Read the user's local documents into located text (page or heading path) for indexing.

.pdf, .docx and .html go to their readers by name; any other file is judged by its
content (``doc_text``): text, markdown (by name), a PDF or HTML page without its
extension, or gzip holding any of these. Nothing here executes or fetches anything:
pypdf, python-docx and lxml (network off) only parse bytes we read ourselves. Every
bad file becomes one ``DocumentError`` that says why it was skipped, so one broken
file never stops indexing a folder.
"""

from __future__ import annotations

import logging
import stat
import zlib
from pathlib import Path

from assistant.core.base.files import size_text
from assistant.core.documents.files import (
    DEFAULT_MAX_BYTES,
    FORMAT_SUFFIXES,
    SUPPORTED_SUFFIXES,
    iter_files,
    os_reason,
    too_large,
)
from assistant.core.documents.formats import (
    DocumentError,
    Section,
    damaged,
    docx_sections,
    html_sections,
    md_sections,
    pdf_sections,
    tidy,
)
from assistant.core.documents.text import (
    GZIP_MAGIC,
    HEAD_BYTES,
    PDF_MAGIC,
    binary_label,
    decode_text,
    gunzip,
    gunzip_head,
    looks_like_html,
)

__all__ = ["DEFAULT_MAX_BYTES", "SUPPORTED_SUFFIXES", "DocumentError", "Section", "iter_files"]

log = logging.getLogger(__name__)

_NOT_TEXT_HINT = "Text files and PDF, Word and HTML documents are read (gzip-compressed too)."


def read_document(path: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> list[Section]:
    """The document's text as sections; raises DocumentError for anything unreadable."""
    path = Path(path)
    name = path.name
    kind, data, compressed = _unpack(_read_bytes(path, max_bytes), path, max_bytes)
    if kind == "pdf":
        sections = pdf_sections(data, name)
    elif kind == "docx":
        sections = docx_sections(data, name)
    elif kind == "html":
        sections = html_sections(data, name)
    else:
        text = decode_text(data)
        if text is None:
            raise _not_text(name, "binary", compressed)
        sections = [Section(tidy(text))] if kind == "text" else md_sections(tidy(text))
    sections = [s for s in sections if s.text.strip()]
    if not sections:
        if kind == "pdf":
            raise DocumentError(
                f"{name} has no text to index (scanned images?).",
                "Run it through OCR first to make its text searchable.",
            )
        raise DocumentError(f"{name} has no text to index.", "It is empty or only images.")
    return sections


def quick_refusal(path: Path) -> DocumentError | None:
    """Why a file's first few KB already rule it out (empty, an image, an archive...).

    None when it may well be readable: ``read_document`` has the last word. Scans ask
    this before hashing, so a folder of photos costs one small read per file.
    """
    path = Path(path)
    if path.suffix.lower() in FORMAT_SUFFIXES:
        return None  # its reader decides
    try:
        with path.open("rb") as f:
            head = f.read(HEAD_BYTES)
        _unpack(head, path, None)
    except DocumentError as e:
        return e
    except OSError:
        pass  # read_document says why, with the same words as ever
    return None


def _unpack(data: bytes, path: Path, max_bytes: int | None) -> tuple[str, bytes, bool]:
    """Which reader ``data`` needs ("pdf", "docx", "html", "markdown" or "text"), the bytes
    to give it, and whether they came out of gzip; DocumentError if no reader fits.

    ``max_bytes=None``: ``data`` is only the file's first bytes, for a quick look.
    """
    name = path.name
    kind = _kind(data, name, path.suffix)
    if kind != "gzip":
        return kind, data, False
    # notes.md.gz reads as markdown, report.pdf.gz as a PDF, notes.gz as text.
    inner = Path(path.stem).suffix if path.suffix.lower() == ".gz" else ""
    try:
        # The first KB tell a gzipped photo or tar file before it is all unpacked.
        head = gunzip_head(data)
        if max_bytes is None and not head:
            return "text", head, True  # a header longer than the look: read_document decides
        kind = _kind(head, name, inner, compressed=True)
        if max_bytes is None:
            return kind, head, True
        unpacked = gunzip(data, max_bytes)
    except (OSError, EOFError, zlib.error) as e:
        raise damaged(name, "gzip", e) from e
    if unpacked is None:
        raise DocumentError(
            f"{name} is too large once decompressed (the limit is {size_text(max_bytes)}).",
            "Decompress it and split it into smaller files, or leave it out.",
        )
    return _kind(unpacked, name, inner, compressed=True), unpacked, True


def _kind(data: bytes, name: str, suffix: str, compressed: bool = False) -> str:
    if kind := FORMAT_SUFFIXES.get(suffix.lower()):
        return kind
    head = data[:HEAD_BYTES]
    if head.startswith(GZIP_MAGIC):
        if compressed:
            raise _not_text(name, "compressed twice", compressed)
        return "gzip"
    if head.startswith(PDF_MAGIC):
        return "pdf"  # a PDF saved without its extension
    if not data:
        inside = " once decompressed" if compressed else ""
        raise DocumentError(f"{name} is an empty file{inside}.", "There is nothing to index.")
    if label := binary_label(head):
        raise _not_text(name, label, compressed)
    if looks_like_html(head):
        return "html"
    return "markdown" if suffix.lower() in (".md", ".markdown") else "text"


def _not_text(name: str, label: str, compressed: bool) -> DocumentError:
    if compressed:
        return DocumentError(
            f"{name} is a compressed file that is not text ({label}).", _NOT_TEXT_HINT
        )
    return DocumentError(f"{name} is not text ({label}).", _NOT_TEXT_HINT)


def _read_bytes(path: Path, max_bytes: int) -> bytes:
    name = path.name
    too_big = "Split it into smaller files or raise the size limit."
    try:
        st = path.stat()
        if not stat.S_ISREG(st.st_mode):
            raise DocumentError(f"{name} is not a regular file.", "Only ordinary files are read.")
        if st.st_size > max_bytes:
            raise DocumentError(f"{name} is {too_large(st.st_size, max_bytes)}.", too_big)
        with path.open("rb") as f:
            data = f.read(max_bytes + 1)  # the file may have grown since stat()
    except OSError as e:
        reason = os_reason(e, path)
        if reason in ("not found", "broken link"):
            raise DocumentError(f"{name} was not found ({reason}).", "Was it moved?") from e
        hint = "Check its permissions." if reason == "permission denied" else ""
        raise DocumentError(f"{name} could not be read: {reason}.", hint) from e
    if len(data) > max_bytes:
        raise DocumentError(f"{name} is {too_large(len(data), max_bytes)}.", too_big)
    return data
