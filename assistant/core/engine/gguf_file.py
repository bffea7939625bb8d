"""Fast, defensive reading of a GGUF file's header.

Checks what a user can get wrong before llama.cpp sees the file (missing,
empty, not GGUF, truncated) and reads the metadata we need. Uses the `gguf`
package's type tables; we walk the header ourselves because GGUFReader
materialises every vocabulary string (about 10 s for a 49k-token vocab),
which is too slow for opening a model.
"""

from __future__ import annotations

import mmap
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gguf import GGML_QUANT_SIZES, GGMLQuantizationType, GGUFValueType, LlamaFileType

from assistant.core.base.errors import ModelError

MAGIC = b"GGUF"
_SCALARS = {
    GGUFValueType.UINT8: "<B",
    GGUFValueType.INT8: "<b",
    GGUFValueType.UINT16: "<H",
    GGUFValueType.INT16: "<h",
    GGUFValueType.UINT32: "<I",
    GGUFValueType.INT32: "<i",
    GGUFValueType.FLOAT32: "<f",
    GGUFValueType.BOOL: "<?",
    GGUFValueType.UINT64: "<Q",
    GGUFValueType.INT64: "<q",
    GGUFValueType.FLOAT64: "<d",
}
# Sanity caps: a hostile header must not make us allocate or loop forever.
_MAX_STRING = 64 << 20
_MAX_COUNT = 50_000_000
_KEEP_ARRAYS = 64  # arrays longer than this (vocabularies) are skipped, not kept


class _Truncated(Exception):
    pass


@dataclass
class GGUFInfo:
    path: Path
    version: int
    architecture: str
    name: str
    file_size: int
    expected_size: int
    tensor_count: int
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def context_length(self) -> int | None:
        v = self.metadata.get(f"{self.architecture}.context_length")
        return int(v) if isinstance(v, int) else None

    @property
    def chat_template(self) -> str | None:
        v = self.metadata.get("tokenizer.chat_template")
        return v if isinstance(v, str) and v.strip() else None

    @property
    def quantization(self) -> str:
        ft = self.metadata.get("general.file_type")
        try:
            return LlamaFileType(ft).name.removeprefix("MOSTLY_") if ft is not None else "unknown"
        except ValueError:
            return f"type {ft}"

    @property
    def size_label(self) -> str:
        return str(self.metadata.get("general.size_label") or "")


class _Cursor:
    def __init__(self, buf: mmap.mmap | bytes) -> None:
        self.buf = buf
        self.pos = 0

    def unpack(self, fmt: str) -> Any:
        size = struct.calcsize(fmt)
        if self.pos + size > len(self.buf):
            raise _Truncated
        (v,) = struct.unpack_from(fmt, self.buf, self.pos)
        self.pos += size
        return v

    def string(self, keep: bool = True) -> str:
        n = self.unpack("<Q")
        if n > _MAX_STRING or self.pos + n > len(self.buf):
            raise _Truncated
        start = self.pos
        self.pos += n
        return bytes(self.buf[start : self.pos]).decode("utf-8", "replace") if keep else ""

    def value(self, vtype: int, keep: bool = True) -> Any:
        if vtype == GGUFValueType.STRING:
            return self.string(keep)
        if vtype == GGUFValueType.ARRAY:
            etype = self.unpack("<I")
            count = self.unpack("<Q")
            if count > _MAX_COUNT:
                raise _Truncated
            keep_items = keep and count <= _KEEP_ARRAYS
            if etype in _SCALARS and etype != GGUFValueType.STRING:
                size = struct.calcsize(_SCALARS[GGUFValueType(etype)])
                if not keep_items:
                    self.pos += size * count
                    if self.pos > len(self.buf):
                        raise _Truncated
                    return None
            items = [self.value(etype, keep_items) for _ in range(count)]
            return items if keep_items else None
        try:
            return self.unpack(_SCALARS[GGUFValueType(vtype)])
        except (KeyError, ValueError) as e:
            raise ValueError(f"unknown value type {vtype}") from e


def _describe_non_gguf(head: bytes) -> str:
    if head[:4] in (b"ggml", b"ggmf", b"ggjt", b"lmgg", b"fmgg", b"tjgg"):
        return "it is an old GGML model, which llama.cpp no longer reads"
    if head.lstrip()[:1] in (b"<", b"{"):
        return "it looks like a web page or an error message, not a model (a failed download?)"
    if head[:2] == b"PK":
        return "it is a zip archive, not a GGUF model"
    if head[:4] == b"\x89HDF" or head[:8] == b"\x80\x02\x8a\nl\xfc\x9c":
        return "it is a PyTorch/HDF5 checkpoint, not a GGUF model"
    return "it is not a GGUF model (wrong magic bytes)"


def inspect(path: Path | str) -> GGUFInfo:
    """Read a GGUF header, or raise ModelError saying what is wrong with the file."""
    p = Path(path).expanduser()
    fix = "Download it again, or choose another model."
    if not p.exists():
        raise ModelError(
            f"Model file not found: {p}.",
            "Check the path, or leave it empty for the starter model.",
        )
    if p.is_dir():
        raise ModelError(f"{p} is a folder, not a model file.", "Point at a .gguf file inside it.")
    size = p.stat().st_size
    if size == 0:
        raise ModelError(f"Model file {p.name} is empty (0 bytes).", fix)
    try:
        with p.open("rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
            head = bytes(mm[:16])
            if head[:4] != MAGIC:
                raise ModelError(
                    f"Cannot use {p.name}: {_describe_non_gguf(head)}.",
                    "Choose a model file in the GGUF format (.gguf) instead.",
                )
            return _parse(p, mm, size)
    except ModelError:
        raise
    except _Truncated:
        raise ModelError(f"Model file {p.name} is truncated: its header is cut off.", fix) from None
    except (OSError, ValueError) as e:
        raise ModelError(f"Cannot read model file {p.name}: {e}.", fix) from e


def _parse(p: Path, mm: mmap.mmap, size: int) -> GGUFInfo:
    c = _Cursor(mm)
    c.pos = 4
    version = c.unpack("<I")
    if version < 2:
        raise ModelError(
            f"{p.name} uses GGUF version {version}, which is no longer supported.",
            "Download a current GGUF of this model.",
        )
    n_tensors = c.unpack("<Q")
    n_kv = c.unpack("<Q")
    if n_tensors > _MAX_COUNT or n_kv > _MAX_COUNT:
        raise _Truncated
    meta: dict[str, Any] = {}
    for _ in range(n_kv):
        key = c.string()
        vtype = c.unpack("<I")
        meta[key] = c.value(vtype)
    expected = 0
    tensors: list[tuple[int, int]] = []
    for _ in range(n_tensors):
        c.string(keep=False)
        n_dims = c.unpack("<I")
        if n_dims > 8:
            raise ValueError("bad tensor header")
        n_elem = 1
        for _ in range(n_dims):
            n_elem *= c.unpack("<Q")
        ttype = c.unpack("<I")
        offset = c.unpack("<Q")
        try:
            block, type_size = GGML_QUANT_SIZES[GGMLQuantizationType(ttype)]
        except (KeyError, ValueError):
            raise ModelError(
                f"{p.name} uses tensor type {ttype}, unknown to this version.",
                "Update the assistant or pick another quantization.",
            ) from None
        tensors.append((offset, n_elem * type_size // block))
    align = meta.get("general.alignment", 32)
    align = align if isinstance(align, int) and align > 0 else 32
    data_start = (c.pos + align - 1) // align * align
    if tensors:
        expected = data_start + max(off + nbytes for off, nbytes in tensors)
    info = GGUFInfo(
        path=p,
        version=version,
        architecture=str(meta.get("general.architecture", "")),
        name=str(meta.get("general.name") or p.stem),
        file_size=size,
        expected_size=expected,
        tensor_count=n_tensors,
        metadata=meta,
    )
    if expected > size:
        raise ModelError(
            f"Model file {p.name} is truncated: {size:,} of {expected:,} bytes present.",
            "The download was cut short; download it again.",
        )
    if not info.architecture:
        raise ModelError(f"{p.name} does not say which architecture it is.", "Pick another model.")
    return info
