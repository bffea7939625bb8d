"""Read the user's local documents into located text (page or heading path) for indexing.

.pdf, .docx and .html go to their readers by name; any other file is judged by its
content (``doc_text``): text, markdown (by name), a PDF or HTML page without its
extension, or gzip holding any of these. Nothing here executes or fetches anything:
pypdf, python-docx and lxml (network off) only parse bytes we read ourselves. Every
bad file becomes one ``DocumentError`` that says why it was skipped, so one broken
file never stops indexing a folder.
"""

from __future__ import annotations

import codecs
import io
import itertools
import logging
import re
import stat
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assistant.core.base.errors import AssistantError
from assistant.core.base.files import size_text
from assistant.core.documents.files import (
    DEFAULT_MAX_BYTES,
    FORMAT_SUFFIXES,
    SUPPORTED_SUFFIXES,
    iter_files,
    os_reason,
    too_large,
)
from assistant.core.documents.text import (
    CTRL,
    GZIP_MAGIC,
    HEAD_BYTES,
    PDF_MAGIC,
    binary_label,
    decode_text,
    guess_encoding,
    gunzip,
    gunzip_head,
    looks_like_html,
)

__all__ = ["DEFAULT_MAX_BYTES", "SUPPORTED_SUFFIXES", "DocumentError", "Section", "iter_files"]

log = logging.getLogger(__name__)

_DAMAGED_HINT = "Open and re-save it, or leave it out of the indexed folders."
_NOT_TEXT_HINT = "Text files and PDF, Word and HTML documents are read (gzip-compressed too)."
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)
_HEADING_STYLE = re.compile(r"heading\s*([1-9])$", re.I)
_HTML_HEADINGS = frozenset(f"h{n}" for n in range(1, 7))
_HTML_DROP = "//script|//style|//noscript|//template|//head"
_BLOCK_TAGS = "address article aside blockquote body br caption dd details dialog div dl dt \
fieldset figcaption figure footer form header hr li main nav ol p pre section summary table \
tbody tfoot thead tr ul"
_HTML_BLOCKS = frozenset(_BLOCK_TAGS.split())  # they end a paragraph


class DocumentError(AssistantError):
    """Why a document was skipped (missing, too large, damaged, no text...)."""


@dataclass(frozen=True)
class Section:
    text: str  # plain text; paragraphs separated by a blank line
    page: int | None = None  # 1-based, PDFs only
    heading: str | None = None  # heading path, e.g. "Installation > Linux"


def read_document(path: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> list[Section]:
    """The document's text as sections; raises DocumentError for anything unreadable."""
    path = Path(path)
    name = path.name
    kind, data, compressed = _unpack(_read_bytes(path, max_bytes), path, max_bytes)
    if kind == "pdf":
        sections = _pdf_sections(data, name)
    elif kind == "docx":
        sections = _docx_sections(data, name)
    elif kind == "html":
        sections = _html_sections(data, name)
    else:
        text = decode_text(data)
        if text is None:
            raise _not_text(name, "binary", compressed)
        sections = [Section(_tidy(text))] if kind == "text" else _md_sections(_tidy(text))
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
        raise _damaged(name, "gzip", e) from e
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


def _tidy(text: str, squeeze: bool = False) -> str:
    """Normalise newlines, drop control chars and extra blank lines; ``squeeze`` spaces too."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\f", "\n\n")
    text = CTRL.sub("", text)
    if squeeze:
        text = re.sub(r"[^\S\n]+", " ", text.replace("\u00a0", " "))
        text = "\n".join(line.strip() for line in text.split("\n"))
    else:
        text = "\n".join(line.rstrip() for line in text.split("\n"))
    return re.sub(r"\n{3,}", "\n\n", text).strip("\n")


def _damaged(name: str, kind: str, e: BaseException) -> DocumentError:
    reason = (str(e).strip().splitlines() or [type(e).__name__])[0][:120]
    return DocumentError(f"{name} is damaged or not a real {kind} file ({reason}).", _DAMAGED_HINT)


class _Outline:
    """Collects paragraphs under the current heading path; one Section per heading."""

    def __init__(self) -> None:
        self.sections: list[Section] = []
        self._path: list[tuple[int, str]] = []
        self._paras: list[str] = []

    def heading(self, level: int, title: str) -> None:
        self._flush()
        if title := " ".join(title.split()):
            while self._path and self._path[-1][0] >= level:
                self._path.pop()
            self._path.append((level, title))

    def para(self, text: str) -> None:
        if text.strip():
            self._paras.append(text.strip("\n").rstrip())

    def finish(self) -> list[Section]:
        self._flush()
        return self.sections

    def _flush(self) -> None:
        if self._paras:
            heading = " > ".join(t for _, t in self._path) or None
            self.sections.append(Section("\n\n".join(self._paras), heading=heading))
        self._paras = []


def _md_sections(text: str) -> list[Section]:
    """Split at headings found by a real CommonMark parser, so code fences can't fake one."""
    from markdown_it import MarkdownIt

    lines = text.split("\n")
    ends = [i for i, ln in enumerate(lines) if ln.strip() == "---"]
    if len(ends) > 1 and ends[0] == 0 and ends[1] <= 50:  # YAML front matter: metadata, not text
        lines[: ends[1] + 1] = [""] * (ends[1] + 1)
    tokens = MarkdownIt("commonmark").parse("\n".join(lines))
    out, pos = _Outline(), 0
    for tok, inline in itertools.pairwise(tokens):
        if tok.type != "heading_open" or tok.level != 0 or not tok.map:
            continue  # headings inside quotes or lists don't start a section
        title = "".join(c.content for c in inline.children or [] if c.type != "html_inline")
        out.para(_tidy("\n".join(lines[pos : tok.map[0]])))
        out.heading(int(tok.tag[1]), title or inline.content)
        pos = tok.map[1]
    out.para(_tidy("\n".join(lines[pos:])))
    return out.finish()


def _pdf_sections(data: bytes, name: str) -> list[Section]:
    from pypdf import PdfReader

    locked = DocumentError(f"{name} is password-protected.", "Save a copy without a password.")
    try:
        reader = PdfReader(io.BytesIO(data))
        # Many "encrypted" PDFs only have an owner password: the empty user one opens them.
        if reader.is_encrypted and not reader.decrypt(""):
            raise locked
        pages = list(reader.pages)
    except DocumentError:
        raise
    except Exception as e:  # pypdf raises many types on hostile input
        if "cryptography" in str(e):  # AES, and the optional dependency is missing
            raise locked from e
        raise _damaged(name, "PDF", e) from e
    sections, failed = [], 0
    for i, page in enumerate(pages):
        try:
            text = _tidy(page.extract_text() or "", squeeze=True)
        except Exception as e:  # one hostile page should not sink the whole file
            failed += 1
            log.warning("%s: skipped page %d: %s", name, i + 1, e)
            continue
        sections.append(Section(text, page=i + 1))
    if pages and failed == len(pages):
        raise _damaged(name, "PDF", RuntimeError("no page could be read"))
    return sections


def _docx_sections(data: bytes, name: str) -> list[Section]:
    import docx
    from docx.table import Table

    try:
        blocks = list(docx.Document(io.BytesIO(data)).iter_inner_content())
    except Exception as e:  # BadZipFile, KeyError, XMLSyntaxError, ...
        raise _damaged(name, "Word", e) from e
    out = _Outline()
    for block in blocks:
        try:
            if isinstance(block, Table):
                for row in _table_rows(block):
                    out.para(row)
            elif (level := _docx_heading_level(block)) is not None:
                out.heading(level, block.text)
            else:
                out.para(_tidy(block.text, squeeze=True))
        except Exception as e:  # one odd table or paragraph should not sink the file
            log.warning("%s: skipped a %s: %s", name, type(block).__name__, e)
    return out.finish()


def _docx_heading_level(paragraph: Any) -> int | None:
    style_name = (getattr(paragraph.style, "name", None) or "").strip()
    if style_name.lower() == "title":
        return 0  # above Heading 1
    m = _HEADING_STYLE.match(style_name)
    return int(m.group(1)) if m else None


def _table_rows(table: Any) -> Iterator[str]:
    """One line per row, cells joined by " | "; a merged cell counts once."""
    for row in table.rows:
        cells, prev = [], None
        for cell in row.cells:
            if cell._tc is not prev and (text := " ".join(cell.text.split())):
                cells.append(text)
            prev = cell._tc
        if cells:
            yield " | ".join(cells)


def _html_sections(data: bytes, name: str) -> list[Section]:
    from lxml import etree, html

    enc = _html_encoding(data)
    parser = html.HTMLParser(encoding=enc, no_network=True, remove_comments=True, remove_pis=True)
    try:
        root = html.document_fromstring(data, parser=parser)
    except Exception as e:
        if not data.strip():
            return []
        raise _damaged(name, "HTML", e) from e
    title = root.findtext(".//title") or ""
    for el in root.xpath(_HTML_DROP):
        el.drop_tree()  # keeps the tail text, which belongs to the parent
    out, buf = _Outline(), []
    heading: tuple[Any, list[str]] | None = None  # (element, its text) while inside one
    if title.strip() and not root.xpath("//h1"):
        out.heading(1, title)

    def flush() -> None:
        out.para(" ".join("".join(buf).split()))
        buf.clear()

    for event, el in etree.iterwalk(root, events=("start", "end")):
        tag = el.tag if isinstance(el.tag, str) else ""
        if event == "start" and tag in _HTML_HEADINGS and heading is None:
            flush()
            heading = (el, [])
        elif event == "end" and heading is not None and el is heading[0]:
            out.heading(int(tag[1]), "".join(heading[1]))
            heading = None
        elif tag in _HTML_BLOCKS and heading is None:
            flush()
        target = heading[1] if heading is not None else buf
        if tag in _HTML_BLOCKS or tag in ("td", "th"):
            target.append(" ")
        target.append((el.text if event == "start" else el.tail) or "")
    flush()
    sections = out.finish()
    errors = [e.message for e in parser.error_log if e.level >= etree.ErrorLevels.ERROR]
    if not sections and errors:  # e.g. libxml2 gives up past 256 levels of nesting
        raise _damaged(name, "HTML", ValueError(errors[-1]))
    return sections


def _html_encoding(data: bytes) -> str | None:
    """None lets lxml honour a BOM or <meta charset>; else guess, as lxml would say latin-1."""
    if data.startswith((codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return None
    m = _META_CHARSET.search(data[:4096])
    try:
        if m and codecs.lookup(m.group(1).decode("ascii")):
            return None
    except LookupError:
        pass  # a made-up charset: guess instead
    try:
        data.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        return guess_encoding(data) or "cp1252"
