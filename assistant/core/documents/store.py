"""The user's local documents in SQLite: sources, files, passages.

A source is a file or folder the user added. Scanning it reads new and changed
files (mtime + size first, then the content hash, so a touched but unchanged
file is not re-read), replaces their passages in one transaction, records
every file it leaves out with the reason (binary, too large, damaged...), and
drops files that disappeared. Embedding
and the vector index are the caller's business (``knowledge.Knowledge``).
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from assistant.core.base.errors import AssistantError
from assistant.core.documents.chunking import chunk_sections
from assistant.core.documents.readers import (
    DEFAULT_MAX_BYTES,
    DocumentError,
    iter_files,
    quick_refusal,
    read_document,
)
from assistant.core.history.store import HistoryStore

log = logging.getLogger(__name__)

Progress = Callable[[int, int, str], None]  # done, total, path


@dataclass(frozen=True)
class Document:
    id: int
    source_id: int
    path: str
    size: int | None
    status: str  # indexed | skipped (excluded ones are not listed)
    error: str | None
    indexed_at: float
    chunks: int
    unembedded: int = 0  # passages without a vector yet (the embedding was cut short)


@dataclass
class ScanReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # path, reason
    unchanged: int = 0
    chunks: int = 0  # passages written

    def summary(self) -> str:
        parts = [
            f"{len(self.added)} added",
            f"{len(self.updated)} updated",
            f"{self.unchanged} unchanged",
            f"{len(self.removed)} removed",
            f"{len(self.skipped)} skipped",
        ]
        return ", ".join(parts) + f" ({plural(self.chunks, 'passage')})"


def plural(n: int, word: str) -> str:
    """ "1 passage", "2 passages", "2 memories"."""
    if n == 1:
        return f"{n} {word}"
    return (
        f"{n} {word[:-1]}ies"
        if word.endswith("y") and word[-2:-1] not in "aeiou"
        else f"{n} {word}s"
    )


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _existing(path: Path | str) -> Path:
    p = Path(path).expanduser().absolute()
    if not p.exists():
        raise AssistantError(f"{p} does not exist.", "Check the path and try again.")
    return p


def _like_prefix(folder: Path) -> str:
    """A LIKE pattern for everything under ``folder`` (wildcards in the name escaped)."""
    escaped = str(folder).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped.rstrip("/") + "/%"


class DocumentStore:
    def __init__(self, store: HistoryStore, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.store = store
        self.max_bytes = max_bytes

    # -- sources ------------------------------------------------------------

    def add_sources(self, paths: list[Path]) -> list[int]:
        """Add several at once, all or none: a missing path adds nothing, so no source
        is left behind that was never scanned."""
        for path in paths:
            _existing(path)
        return [self.add_source(p) for p in paths]

    def add_source(self, path: Path | str) -> int:
        """Add a file or folder; one inside a folder already added just comes back in.

        Returns the id of the source that covers it (so the caller scans that one).
        """
        p = _existing(path)
        with self.store.transaction() as db:
            for sid, root in db.execute("SELECT id, path FROM doc_sources").fetchall():
                if p == Path(root) or p.is_relative_to(root):
                    # Undo an earlier removal of this file (or of files under this folder).
                    db.execute(
                        "DELETE FROM documents WHERE status = 'excluded'"
                        " AND (path = ? OR path LIKE ? ESCAPE '\\')",
                        (str(p), _like_prefix(p)),
                    )
                    return int(sid)
            db.execute(
                "INSERT INTO doc_sources (path, added_at) VALUES (?, ?)", (str(p), time.time())
            )
            return int(
                db.execute("SELECT id FROM doc_sources WHERE path = ?", (str(p),)).fetchone()[0]
            )

    def sources(self) -> list[tuple[int, str]]:
        return [
            (int(i), p)
            for i, p in self.store.fetch("SELECT id, path FROM doc_sources ORDER BY path")
        ]

    def remove(self, path: Path | str) -> list[str]:
        """Forget a source (or one document) and its passages; returns the indexed paths dropped."""
        p = str(Path(path).expanduser().absolute())
        with self.store.transaction() as db:
            src = db.execute("SELECT id FROM doc_sources WHERE path = ?", (p,)).fetchone()
            if src:
                docs = [
                    r[0]
                    for r in db.execute(
                        "SELECT path FROM documents WHERE source_id = ? AND status = 'indexed'", src
                    )
                ]
                db.execute("DELETE FROM doc_sources WHERE id = ?", src)  # cascades
                return docs
            # One file of an added folder: remembered as excluded, so a rescan leaves it out.
            doc = db.execute(
                "SELECT id FROM documents WHERE path = ? AND status != 'excluded'", (p,)
            ).fetchone()
            if doc:
                db.execute("DELETE FROM doc_chunks WHERE document_id = ?", doc)
                db.execute(
                    "UPDATE documents SET status = 'excluded', error = NULL WHERE id = ?", doc
                )
                return [p]
        raise AssistantError(f"{p} is not among your documents.", "See `assistant docs list`.")

    # -- documents ----------------------------------------------------------

    def documents(self) -> list[Document]:
        rows = self.store.fetch(
            "SELECT d.id, d.source_id, d.path, d.size, d.status, d.error, d.indexed_at,"
            " (SELECT COUNT(*) FROM doc_chunks c WHERE c.document_id = d.id),"
            " (SELECT COUNT(*) FROM doc_chunks c WHERE c.document_id = d.id AND NOT EXISTS"
            "  (SELECT 1 FROM vectors v WHERE v.key = 'c' || c.id))"
            " FROM documents d WHERE d.status != 'excluded' ORDER BY d.path"
        )
        return [Document(*r) for r in rows]

    def count_chunks(self) -> int:
        return int(self.store.fetch("SELECT COUNT(*) FROM doc_chunks")[0][0])

    def scan(
        self, source_ids: list[int] | None = None, progress: Progress | None = None
    ) -> ScanReport:
        """Bring the passages of the given sources (default: all) up to date."""
        report = ScanReport()
        for source_id, root in self.sources():
            if source_ids is not None and source_id not in source_ids:
                continue
            files = list(iter_files([Path(root)], self.max_bytes))
            if files and files[0][0] == Path(root) and files[0][1] in ("not found", "broken link"):
                # An unplugged drive is not a deletion: keep what was indexed.
                report.skipped.append((root, "not found"))
                continue
            seen: set[str] = set()
            for n, (path, reason) in enumerate(files, 1):
                if progress:
                    progress(n, len(files), str(path))
                key = str(path)
                seen.add(key)
                if reason:
                    old = self._existing(key)
                    if not (old and old[5] == "excluded"):
                        report.skipped.append((key, reason))
                        self._record_skip(source_id, key, None, reason, old)
                    continue
                self._scan_file(source_id, path, report)
            self._drop_missing(source_id, seen, report)
        return report

    def _existing(self, path: str) -> tuple | None:
        rows = self.store.fetch(
            "SELECT id, source_id, size, mtime, sha256, status, error FROM documents WHERE path = ?",
            (path,),
        )
        return rows[0] if rows else None

    def _scan_file(self, source_id: int, path: Path, report: ScanReport) -> None:
        key = str(path)
        old = self._existing(key)
        if old and (old[1] != source_id or old[5] == "excluded"):
            return  # indexed through another source, or removed by the user
        try:
            st = path.stat()
        except OSError as e:  # gone or locked since the walk
            report.skipped.append((key, e.strerror or str(e)))
            self._record_skip(source_id, key, None, e.strerror or str(e), old)
            return
        if old and old[5] == "indexed" and old[2] == st.st_size and old[3] == st.st_mtime:
            report.unchanged += 1
            return
        if refused := quick_refusal(path):  # a photo or an archive is not hashed nor read
            report.skipped.append((key, refused.message))
            self._record_skip(source_id, key, st, refused.message, old)
            return
        try:
            digest = file_sha256(path)
        except OSError as e:
            report.skipped.append((key, e.strerror or str(e)))
            self._record_skip(source_id, key, st, e.strerror or str(e), old)
            return
        if old and old[5] == "indexed" and old[4] == digest:
            with self.store.transaction() as db:  # touched, not changed
                db.execute(
                    "UPDATE documents SET size = ?, mtime = ? WHERE id = ?",
                    (st.st_size, st.st_mtime, old[0]),
                )
            report.unchanged += 1
            return
        try:
            passages = chunk_sections(read_document(path, self.max_bytes))
        except DocumentError as e:
            report.skipped.append((key, e.message))
            self._record_skip(source_id, key, st, e.message, old)
            return
        except Exception as e:  # a hostile file must never stop the scan
            log.warning("cannot read %s", path, exc_info=True)
            reason = f"could not be read ({type(e).__name__})"
            report.skipped.append((key, reason))
            self._record_skip(source_id, key, st, reason, old)
            return
        with self.store.transaction() as db:
            doc_id = self._upsert(db, source_id, key, st, digest, "indexed", None)
            db.execute("DELETE FROM doc_chunks WHERE document_id = ?", (doc_id,))
            db.executemany(
                "INSERT INTO doc_chunks (document_id, ordinal, text, page, heading)"
                " VALUES (?, ?, ?, ?, ?)",
                [(doc_id, p.ordinal, p.text, p.page, p.heading) for p in passages],
            )
        (report.updated if old else report.added).append(key)
        report.chunks += len(passages)

    @staticmethod
    def _upsert(db, source_id, path, st, digest, status, error) -> int:  # type: ignore[no-untyped-def]
        db.execute(
            "INSERT INTO documents (source_id, path, size, mtime, sha256, status, error, indexed_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(path) DO UPDATE SET"
            " size = excluded.size, mtime = excluded.mtime, sha256 = excluded.sha256,"
            " status = excluded.status, error = excluded.error, indexed_at = excluded.indexed_at",
            (
                source_id,
                path,
                st.st_size if st else None,
                st.st_mtime if st else None,
                digest,
                status,
                error,
                time.time(),
            ),
        )
        return int(db.execute("SELECT id FROM documents WHERE path = ?", (path,)).fetchone()[0])

    def _record_skip(self, source_id: int, path: str, st, reason: str, old: tuple | None) -> None:  # type: ignore[no-untyped-def]
        size, mtime = (st.st_size, st.st_mtime) if st else (None, None)
        if old and old[1:4] == (source_id, size, mtime) and old[5:7] == ("skipped", reason):
            return  # recorded already: a rescan of a folder of photos writes nothing
        with self.store.transaction() as db:
            doc_id = self._upsert(db, source_id, path, st, None, "skipped", reason)
            db.execute("DELETE FROM doc_chunks WHERE document_id = ?", (doc_id,))

    def _drop_missing(self, source_id: int, seen: set[str], report: ScanReport) -> None:
        rows = self.store.fetch("SELECT id, path FROM documents WHERE source_id = ?", (source_id,))
        gone = [(i, p) for i, p in rows if p not in seen]
        if not gone:
            return
        with self.store.transaction() as db:
            db.executemany("DELETE FROM documents WHERE id = ?", [(i,) for i, _ in gone])
        report.removed.extend(p for _, p in gone)
