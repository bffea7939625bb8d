"""Each document format read into located ``Section``s: Markdown by its headings, PDF
by page, Word and HTML by their headings (tables and lists kept as lines)."""

from __future__ import annotations

import codecs
import io
import itertools
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from assistant.core.base.errors import AssistantError
from assistant.core.documents.text import CTRL, guess_encoding

log = logging.getLogger(__name__)

_DAMAGED_HINT = "Open and re-save it, or leave it out of the indexed folders."
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


def tidy(text: str, squeeze: bool = False) -> str:
    """Normalise newlines, drop control chars and extra blank lines; ``squeeze`` spaces too."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\f", "\n\n")
    text = CTRL.sub("", text)
    if squeeze:
        text = re.sub(r"[^\S\n]+", " ", text.replace("\u00a0", " "))
        text = "\n".join(line.strip() for line in text.split("\n"))
    else:
        text = "\n".join(line.rstrip() for line in text.split("\n"))
    return re.sub(r"\n{3,}", "\n\n", text).strip("\n")


def damaged(name: str, kind: str, e: BaseException) -> DocumentError:
    reason = (str(e).strip().splitlines() or [type(e).__name__])[0][:120]
    return DocumentError(f"{name} is damaged or not a real {kind} file ({reason}).", _DAMAGED_HINT)


class Outline:
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


def md_sections(text: str) -> list[Section]:
    """Split at headings found by a real CommonMark parser, so code fences can't fake one."""
    from markdown_it import MarkdownIt

    lines = text.split("\n")
    ends = [i for i, ln in enumerate(lines) if ln.strip() == "---"]
    if len(ends) > 1 and ends[0] == 0 and ends[1] <= 50:  # YAML front matter: metadata, not text
        lines[: ends[1] + 1] = [""] * (ends[1] + 1)
    tokens = MarkdownIt("commonmark").parse("\n".join(lines))
    out, pos = Outline(), 0
    for tok, inline in itertools.pairwise(tokens):
        if tok.type != "heading_open" or tok.level != 0 or not tok.map:
            continue  # headings inside quotes or lists don't start a section
        title = "".join(c.content for c in inline.children or [] if c.type != "html_inline")
        out.para(tidy("\n".join(lines[pos : tok.map[0]])))
        out.heading(int(tok.tag[1]), title or inline.content)
        pos = tok.map[1]
    out.para(tidy("\n".join(lines[pos:])))
    return out.finish()


def pdf_sections(data: bytes, name: str) -> list[Section]:
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
        raise damaged(name, "PDF", e) from e
    sections, failed = [], 0
    for i, page in enumerate(pages):
        try:
            text = tidy(page.extract_text() or "", squeeze=True)
        except Exception as e:  # one hostile page should not sink the whole file
            failed += 1
            log.warning("%s: skipped page %d: %s", name, i + 1, e)
            continue
        sections.append(Section(text, page=i + 1))
    if pages and failed == len(pages):
        raise damaged(name, "PDF", RuntimeError("no page could be read"))
    return sections


def docx_sections(data: bytes, name: str) -> list[Section]:
    import docx
    from docx.table import Table

    try:
        blocks = list(docx.Document(io.BytesIO(data)).iter_inner_content())
    except Exception as e:  # BadZipFile, KeyError, XMLSyntaxError, ...
        raise damaged(name, "Word", e) from e
    out = Outline()
    for block in blocks:
        try:
            if isinstance(block, Table):
                for row in _table_rows(block):
                    out.para(row)
            elif (level := _docx_heading_level(block)) is not None:
                out.heading(level, block.text)
            else:
                out.para(tidy(block.text, squeeze=True))
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


def html_sections(data: bytes, name: str) -> list[Section]:
    from lxml import etree, html

    enc = html_encoding(data)
    parser = html.HTMLParser(encoding=enc, no_network=True, remove_comments=True, remove_pis=True)
    try:
        root = html.document_fromstring(data, parser=parser)
    except Exception as e:
        if not data.strip():
            return []
        raise damaged(name, "HTML", e) from e
    title = root.findtext(".//title") or ""
    for el in root.xpath(_HTML_DROP):
        el.drop_tree()  # keeps the tail text, which belongs to the parent
    out, buf = Outline(), []
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
        raise damaged(name, "HTML", ValueError(errors[-1]))
    return sections


def html_encoding(data: bytes) -> str | None:
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
