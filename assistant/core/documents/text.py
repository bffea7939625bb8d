"""Is a file text? Decided from its bytes, never its name, and gzip unpacked within a cap.

The first few KB settle most files: a known binary signature (image, archive,
executable, database, audio, video) or a NUL byte means "not text". Whatever
passes is decoded in full by ``decode_text``, which is the real test.
"""

from __future__ import annotations

import codecs
import gzip
import io
import logging
import re
import zlib

log = logging.getLogger(__name__)

HEAD_BYTES = 8192  # enough to see a signature and judge the mix of characters
GZIP_MAGIC = b"\x1f\x8b"
PDF_MAGIC = b"%PDF-"
CTRL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")  # control characters text never holds
_CTRL_BYTES = re.compile(rb"[\x00-\x08\x0b\x0e-\x1f\x7f]")
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),  # before UTF-16 LE: it starts with the same two bytes
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_WESTERN = frozenset({"cp1252", "latin_1", "iso8859_15"})
_BLOCK = 1 << 20

# (offset, signature, what it is): formats that are certainly not text. A signature of
# plain letters (GIF89a, ID3) could begin a note, so it only counts beside a NUL byte.
_SIGNATURES: tuple[tuple[int, bytes, str], ...] = (
    (0, b"\x89PNG\r\n\x1a\n", "PNG image"),
    (0, b"\xff\xd8\xff", "JPEG image"),
    (0, b"GIF87a", "GIF image"),
    (0, b"GIF89a", "GIF image"),
    (0, b"II*\x00", "TIFF image"),
    (0, b"MM\x00*", "TIFF image"),
    (0, b"8BPS", "Photoshop image"),
    (0, b"RIFF", "WAV, AVI or WebP media"),
    (4, b"ftyp", "MP4, MOV or HEIC media"),
    (0, b"\x1aE\xdf\xa3", "Matroska or WebM video"),
    (0, b"ID3", "MP3 audio"),
    (0, b"fLaC", "FLAC audio"),
    (0, b"OggS", "Ogg audio or video"),
    (0, b"PK\x03\x04", "ZIP archive"),
    (0, b"PK\x05\x06", "ZIP archive"),
    (0, b"7z\xbc\xaf\x27\x1c", "7-Zip archive"),
    (0, b"Rar!\x1a\x07", "RAR archive"),
    (257, b"ustar", "tar archive"),
    (0, b"\xfd7zXZ\x00", "xz-compressed file"),
    (0, b"\x28\xb5\x2f\xfd", "zstd-compressed file"),
    (4, b"1AY&SY", "bzip2-compressed file"),
    (0, b"\x7fELF", "executable"),
    (0, b"\xcf\xfa\xed\xfe", "executable"),
    (0, b"\xce\xfa\xed\xfe", "executable"),
    (0, b"\xca\xfe\xba\xbe", "executable or Java class"),
    (0, b"\x00asm", "WebAssembly module"),
    (0, b"SQLite format 3\x00", "SQLite database"),
    (0, b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "old Microsoft Office file"),
)


def binary_label(head: bytes) -> str | None:
    """What binary format a file's first bytes show, or None if it may be text.

    gzip and PDF are not labelled: they are read (unpacked, or by the PDF reader).
    """
    if head.startswith((GZIP_MAGIC, PDF_MAGIC)):
        return None
    if any(head.startswith(bom) for bom, _ in _BOMS):
        return None  # UTF-16/32 text legitimately holds NUL bytes
    has_nul = b"\x00" in head
    for offset, magic, label in _SIGNATURES:
        if head[offset : offset + len(magic)] == magic and (has_nul or not _plain(magic)):
            return label
    if head.startswith(b"MZ") and b"\x00" in head[:64]:
        return "Windows executable"
    if has_nul or len(_CTRL_BYTES.findall(head)) > max(8, len(head) // 100):
        return "binary"
    return None


def _plain(magic: bytes) -> bool:
    return all(0x20 <= b < 0x7F for b in magic)


def looks_like_html(head: bytes) -> bool:
    """An HTML page saved without its .html name: read with the HTML reader, not as text."""
    start = head.lstrip(b"\xef\xbb\xbf \t\r\n")[:64].lower()
    return start.startswith((b"<!doctype html", b"<html"))


def decode_text(data: bytes) -> str | None:
    """The text, or None when ``data`` does not decode as mostly printable characters."""
    for bom, codec in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(codec)
            except UnicodeDecodeError:
                return None
    if b"\x00" in data:
        return None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        # Not UTF-8: a legacy code page, if it reads as mostly printable text.
        encoding = guess_encoding(data)
        text = data.decode(encoding, errors="replace") if encoding else ""
        if text.count("\ufffd") > max(8, len(text) // 100):
            return None
    sample = text[:100_000]
    if not sample or len(CTRL.findall(sample)) > max(8, len(sample) // 100):
        return None
    return text


def guess_encoding(data: bytes) -> str | None:
    """charset_normalizer's pick, or Windows-1252 when it rates that about as plausible:
    on short Western text its top pick is often a sibling code page (cp1250, cp1257)."""
    from charset_normalizer import from_bytes

    matches = from_bytes(data)
    best = matches.best()
    if best is None:
        return None
    western = [m for m in matches if m.encoding in _WESTERN and m.chaos <= best.chaos + 0.1]
    return (western[0] if western else best).encoding


def gunzip_head(data: bytes) -> bytes:
    """The first ``HEAD_BYTES`` once decompressed, from as much of the file as is given.

    Works on a prefix of the file too (a quick look); raises ``zlib.error`` on bad data.
    """
    out = b""
    while data and len(out) < HEAD_BYTES:
        d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        out += d.decompress(data, HEAD_BYTES - len(out))
        # Concatenated members (`cat a.gz b.gz`) are one file to gzip: go on to the next.
        data = d.unused_data if d.eof else b""
    return out


def gunzip(data: bytes, cap: int) -> bytes | None:
    """All the decompressed bytes, or None past ``cap``.

    Decompresses block by block and stops at the cap, so a gzip bomb costs at most
    the cap in memory. Raises ``OSError``/``EOFError``/``zlib.error`` on damage.
    """
    blocks: list[bytes] = []
    size = 0
    with gzip.GzipFile(fileobj=io.BytesIO(data)) as f:  # also joins concatenated members
        while block := f.read(min(_BLOCK, cap + 1 - size)):
            size += len(block)
            if size > cap:
                log.debug("gzip stream passes the %d-byte cap", cap)
                return None
            blocks.append(block)
    return b"".join(blocks)
