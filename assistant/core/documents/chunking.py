"""Cut document sections into overlapping passages sized for the embedder.

A passage is an exact slice of one section's text: it never crosses a section, so
its page and heading stay true. Cuts fall between paragraphs, else between sentences,
else between words; only a giant "word" (a URL, a hash) is ever cut mid-way.
"""

from __future__ import annotations

import bisect
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass

from assistant.core.documents.readers import Section

log = logging.getLogger(__name__)

_PARA = re.compile(r"\n[ \t]*\n\s*")
_SENTENCE = re.compile(r"(?<=[.!?])[\"'”’)\]]*(\s+)")  # the group is the gap between two
_WORD = re.compile(r"\s+")
_LEVELS = (_PARA, _SENTENCE, _WORD)
_WORD_START = re.compile(r"(?<!\S)\S")


@dataclass(frozen=True)
class Passage:
    text: str
    ordinal: int  # 0-based, across the whole document
    page: int | None
    heading: str | None


def chunk_sections(
    sections: Sequence[Section], max_chars: int = 900, overlap: int = 150
) -> list[Passage]:
    """Passages of at most ``max_chars``; neighbours in a section share up to ``overlap``."""
    if max_chars < 100:
        raise ValueError(f"max_chars must be at least 100, not {max_chars}")
    if not 0 <= overlap < max_chars:
        raise ValueError(f"overlap must be between 0 and max_chars - 1, not {overlap}")
    passages: list[Passage] = []
    for section in sections:
        for text in _chunk_text(section.text, max_chars, overlap):
            passages.append(Passage(text, len(passages), section.page, section.heading))
    return passages


def _chunk_text(text: str, max_chars: int, overlap: int) -> list[str]:
    lo, hi = _strip(text, 0, len(text))
    if lo == hi:
        return []
    units = _units(text, lo, hi, max_chars, 0)
    words = [m.start() for m in _WORD_START.finditer(text)]
    sentences = {m.end() for pattern in (_PARA, _SENTENCE) for m in pattern.finditer(text)}
    chunks: list[str] = []
    start, i = units[0][0], 0
    while i < len(units):
        end = units[i][1]  # the start was chosen so that this unit fits
        i += 1
        while i < len(units) and units[i][1] - start <= max_chars:
            end = units[i][1]
            i += 1
        chunks.append(text[start:end])
        if i < len(units):
            start = _overlap_start(words, sentences, start, end, units[i], max_chars, overlap)
    return chunks


def _overlap_start(
    words: list[int],
    sentences: set[int],
    prev_start: int,
    prev_end: int,
    next_unit: tuple[int, int],
    max_chars: int,
    overlap: int,
) -> int:
    """Where the next passage starts: the earliest sentence (else word) start in the
    previous passage's tail that still leaves room for the next unit."""
    lo = max(prev_end - overlap, prev_start + 1, next_unit[1] - max_chars)
    candidates = words[bisect.bisect_left(words, lo) : bisect.bisect_left(words, prev_end)]
    for pos in candidates:
        if pos in sentences:
            return pos
    # A few words cut from mid-sentence are noise, not context.
    if candidates and prev_end - candidates[0] >= overlap // 4:
        return candidates[0]
    return next_unit[0]


def _units(text: str, lo: int, hi: int, max_chars: int, level: int) -> list[tuple[int, int]]:
    """Spans no longer than ``max_chars``, split as coarsely as possible."""
    if hi - lo <= max_chars:
        return [(lo, hi)]
    if level == len(_LEVELS):  # one giant word: a hard cut is all that is left
        return [(i, min(i + max_chars, hi)) for i in range(lo, hi, max_chars)]
    spans: list[tuple[int, int]] = []
    start = lo
    for m in _LEVELS[level].finditer(text, lo, hi):
        gap_start, gap_end = m.span(m.lastindex or 0)
        spans.append((start, gap_start))
        start = gap_end
    spans.append((start, hi))
    units: list[tuple[int, int]] = []
    for s, e in spans:
        s, e = _strip(text, s, e)
        if s < e:
            units += _units(text, s, e, max_chars, level + 1)
    return units


def _strip(text: str, lo: int, hi: int) -> tuple[int, int]:
    while lo < hi and text[lo].isspace():
        lo += 1
    while hi > lo and text[hi - 1].isspace():
        hi -= 1
    return lo, hi
