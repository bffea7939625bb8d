"""Document reading and chunking on real files written at test time."""

from __future__ import annotations

import gzip
import io
import itertools
import os
import re
import sqlite3
import tarfile
import tracemalloc
import zipfile
from pathlib import Path

import docx
import pytest
from fpdf import FPDF
from pypdf import PageObject, PdfWriter

from assistant.core.documents import files as doc_files
from assistant.core.documents.chunking import Passage, chunk_sections
from assistant.core.documents.readers import (
    DocumentError,
    Section,
    iter_files,
    quick_refusal,
    read_document,
)

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10"

PAGE_TEXT = [
    "Apples grow on the first page of this report.",
    "Bananas ripen slowly on the second page.",
    "",  # a blank page: skipped, yet later pages keep their true numbers
    "Cherries close the fourth page.",
]


def _pdf_bytes(pages: list[str]) -> bytes:
    pdf = FPDF()
    pdf.set_font("Helvetica", size=12)
    for text in pages:
        pdf.add_page()
        if text:
            pdf.multi_cell(0, 10, text)
    return bytes(pdf.output())


def _write(path: Path, data: bytes | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        path.write_text(data, encoding="utf-8")
    else:
        path.write_bytes(data)
    return path


def _encrypted_pdf(path: Path, user_password: str) -> Path:
    writer = PdfWriter(clone_from=io.BytesIO(_pdf_bytes(PAGE_TEXT[:2])))
    writer.encrypt(user_password=user_password, owner_password="owner-only")
    with path.open("wb") as f:
        writer.write(f)
    return path


# --- PDF -------------------------------------------------------------------


def test_pdf_gives_one_section_per_page_with_true_page_numbers(tmp_path):
    sections = read_document(_write(tmp_path / "report.pdf", _pdf_bytes(PAGE_TEXT)))
    assert [s.page for s in sections] == [1, 2, 4]
    assert [s.text for s in sections] == [t for t in PAGE_TEXT if t]
    assert all(s.heading is None for s in sections)


def test_pdf_with_a_user_password_is_refused(tmp_path):
    with pytest.raises(DocumentError, match=r"locked\.pdf is password-protected"):
        read_document(_encrypted_pdf(tmp_path / "locked.pdf", "secret"))


def test_pdf_with_only_an_owner_password_is_read(tmp_path):
    sections = read_document(_encrypted_pdf(tmp_path / "owner.pdf", ""))
    assert [(s.page, s.text) for s in sections] == [(1, PAGE_TEXT[0]), (2, PAGE_TEXT[1])]


@pytest.mark.parametrize("cut", ["half", "garbage", "empty"])
def test_damaged_pdf_is_reported_with_the_reason(tmp_path, cut):
    real = _pdf_bytes(PAGE_TEXT)
    data = {"half": real[: len(real) // 2], "garbage": b"%PDF-1.4\nnot really", "empty": b""}
    with pytest.raises(DocumentError, match=r"bad\.pdf is damaged or not a real PDF file \(.+\)"):
        read_document(_write(tmp_path / "bad.pdf", data[cut]))


def test_a_hostile_page_is_skipped_but_not_the_whole_file(tmp_path, monkeypatch):
    path = _write(tmp_path / "r.pdf", _pdf_bytes(PAGE_TEXT))
    real_extract = PageObject.extract_text

    def extract(page: PageObject, *args, **kwargs) -> str:
        text = real_extract(page, *args, **kwargs)
        if "Bananas" in text:
            raise RecursionError("maximum recursion depth exceeded")
        return text

    monkeypatch.setattr(PageObject, "extract_text", extract)
    assert [s.page for s in read_document(path)] == [1, 4]

    monkeypatch.setattr(PageObject, "extract_text", lambda *a, **k: 1 / 0)
    with pytest.raises(DocumentError, match=r"damaged.*no page could be read"):
        read_document(path)


def test_pdf_without_text_says_so(tmp_path):
    with pytest.raises(DocumentError, match=r"has no text to index \(scanned images\?\)"):
        read_document(_write(tmp_path / "scan.pdf", _pdf_bytes(["", ""])))


# --- Word, HTML, Markdown, text ---------------------------------------------


def test_docx_headings_build_a_path_and_tables_are_read(tmp_path):
    doc = docx.Document()
    doc.add_heading("Manual", 0)  # the Title style
    doc.add_paragraph("Read this first.")
    doc.add_heading("Installation", 1)
    doc.add_paragraph("Download   the installer.")
    doc.add_heading("Linux", 2)
    doc.add_paragraph("Use the AppImage.")
    table = doc.add_table(rows=2, cols=2)
    for r, row in enumerate([("Distro", "Package"), ("Fedora", "rpm")]):
        for c, text in enumerate(row):
            table.cell(r, c).text = text
    doc.add_heading("Usage", 1)
    doc.add_paragraph("Press the hotkey.")
    path = tmp_path / "manual.docx"
    doc.save(str(path))

    got = [(s.heading, s.text) for s in read_document(path)]
    assert got == [
        ("Manual", "Read this first."),
        ("Manual > Installation", "Download the installer."),
        ("Manual > Installation > Linux", "Use the AppImage.\n\nDistro | Package\n\nFedora | rpm"),
        ("Manual > Usage", "Press the hotkey."),
    ]


def test_a_fake_docx_is_damaged(tmp_path):
    with pytest.raises(DocumentError, match=r"old\.docx is damaged or not a real Word file"):
        read_document(_write(tmp_path / "old.docx", b"\xd0\xcf\x11\xe0 an old .doc file"))


HTML = """<!doctype html><html><head><title>Ignored title</title>
<style>body { color: red }</style><script>var secret = "STEAL";</script></head>
<body><noscript>Enable JS</noscript><h1>Guide</h1><p>Intro <b>text</b> here.</p>
<!-- a comment --><h2>Setup <em>steps</em></h2><div>Step one.</div><div>Step two.</div>
<script>alert("x")</script><table><tr><td>Key</td><td>Value</td></tr></table>
<h2>Usage</h2><ul><li>Open it</li><li>Ask</li></ul></body></html>"""


def test_html_drops_scripts_and_styles_and_builds_heading_paths(tmp_path):
    sections = read_document(_write(tmp_path / "guide.html", HTML))
    assert [(s.heading, s.text) for s in sections] == [
        ("Guide", "Intro text here."),
        ("Guide > Setup steps", "Step one.\n\nStep two.\n\nKey Value"),
        ("Guide > Usage", "Open it\n\nAsk"),
    ]
    everything = " ".join(s.text + str(s.heading) for s in sections)
    for hidden in ("STEAL", "alert", "color", "Enable JS", "comment", "Ignored"):
        assert hidden not in everything


def test_html_title_heads_a_page_without_h1_and_charsets_are_respected(tmp_path):
    latin = "<html><head><meta charset='iso-8859-1'><title>Café menu</title></head>"
    latin += "<body><h2>Crêpes</h2><p>Déjà vu à la française.</p></body></html>"
    sections = read_document(_write(tmp_path / "menu.htm", latin.encode("latin-1")))
    assert [(s.heading, s.text) for s in sections] == [
        ("Café menu > Crêpes", "Déjà vu à la française.")
    ]
    # No declared charset: UTF-8 bytes must not come out as latin-1 mojibake.
    plain = _write(tmp_path / "plain.html", "<p>naïve café</p>".encode())
    assert read_document(plain)[0].text == "naïve café"


MARKDOWN = """# Guide

Intro line.

## Setup

```bash
# not a heading, a shell comment
make install
```

## Usage
Ask away.
"""


def test_markdown_splits_at_headings_but_not_inside_code_fences(tmp_path):
    sections = read_document(_write(tmp_path / "guide.md", MARKDOWN))
    assert [s.heading for s in sections] == ["Guide", "Guide > Setup", "Guide > Usage"]
    assert sections[1].text == "```bash\n# not a heading, a shell comment\nmake install\n```"
    assert sections[2].text == "Ask away."


def test_latin1_text_is_decoded(tmp_path):
    text = "Le cœur a ses raisons. Où est la bibliothèque? Élève très appliqué, déjà là.\n" * 5
    text = text.replace("œ", "oe")  # latin-1 has no œ
    sections = read_document(_write(tmp_path / "notes.txt", text.encode("latin-1")))
    assert sections == [Section(text.strip())]


def test_utf16_text_with_a_bom_is_not_binary(tmp_path):
    path = _write(tmp_path / "win.txt", "Grüße aus Köln".encode("utf-16"))
    assert read_document(path)[0].text == "Grüße aus Köln"


def test_text_with_nul_bytes_is_binary(tmp_path):
    with pytest.raises(DocumentError, match=r"blob\.txt is not text \(binary\)"):
        read_document(_write(tmp_path / "blob.txt", b"ELF\x00\x01\x02 header"))


# --- any file that holds text, judged by content; gzip ------------------------


TEXT_NAMES = "GPL-3 README NOTES LICENSE app.log data.csv guide.rst tool.py conf.json setup.cfg"


@pytest.mark.parametrize("name", [*TEXT_NAMES.split(), "named.png"])
def test_any_file_that_holds_text_is_read_whatever_its_name(tmp_path, name):
    text = f"{name}: the spare key is under the blue flowerpot.\n# not a heading\nCafé, 3 €."
    assert read_document(_write(tmp_path / name, text)) == [Section(text)]
    assert quick_refusal(tmp_path / name) is None


def _sqlite_bytes(path: Path) -> bytes:
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE t (x)")
    con.commit()
    con.close()
    return path.read_bytes()


def _zip_bytes() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("inside.txt", "text, but zipped")
    return buf.getvalue()


def test_known_binary_formats_are_not_text_whatever_their_name(tmp_path):
    noise = bytes(range(256)) * 16  # every byte value, NUL included
    cases = {
        "photo": (PNG, "PNG image"),
        "IMG_0001.txt": (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + noise, "JPEG image"),
        "backup": (_zip_bytes(), "ZIP archive"),
        "run": (b"\x7fELF\x02\x01\x01" + bytes(9) + noise, "executable"),
        "notes.db": (_sqlite_bytes(tmp_path / "made.db"), "SQLite database"),
        "song.md": (b"ID3\x04\x00\x00\x00\x00\x00\x21" + noise, "MP3 audio"),
        "blob": (noise, "binary"),
    }
    for name, (data, label) in cases.items():
        path = _write(tmp_path / "in" / name, data)
        expected = f"{name} is not text ({label})."
        assert quick_refusal(path).message == expected  # from the first KB alone
        with pytest.raises(DocumentError, match=re.escape(expected)):
            read_document(path)
    # Plain letters that happen to open a binary format are still just text.
    note = _write(tmp_path / "gif-notes", "GIF89a is the animated one. OggS is a container.")
    assert read_document(note)[0].text.startswith("GIF89a is")


def test_an_html_page_or_a_pdf_without_its_extension_gets_its_reader(tmp_path):
    page = _write(tmp_path / "saved-page", HTML)
    assert [s.heading for s in read_document(page)] == [
        s.heading for s in read_document(_write(tmp_path / "page.html", HTML))
    ]
    pdf = _write(tmp_path / "manual", _pdf_bytes(PAGE_TEXT))
    assert [s.page for s in read_document(pdf)] == [1, 2, 4]


def test_gzip_text_is_read_as_its_inner_name_says(tmp_path):
    notes = _write(tmp_path / "notes.gz", gzip.compress(b"The boiler is serviced in March."))
    assert read_document(notes) == [Section("The boiler is serviced in March.")]
    md = _write(tmp_path / "guide.md.gz", gzip.compress(MARKDOWN.encode()))
    assert [s.heading for s in read_document(md)] == ["Guide", "Guide > Setup", "Guide > Usage"]
    two = gzip.compress(b"first part\n") + gzip.compress(b"second part\n")  # `cat a.gz b.gz`
    assert read_document(_write(tmp_path / "log.txt.gz", two)) == [
        Section("first part\nsecond part")
    ]
    assert quick_refusal(notes) is None and quick_refusal(md) is None


def test_gzip_of_binary_empty_or_damaged_data_is_refused_with_the_reason(tmp_path):
    tar = io.BytesIO()
    with tarfile.open(fileobj=tar, mode="w:gz") as t:
        t.add(_write(tmp_path / "a.txt", "inside a tarball"), arcname="a.txt")
    cases = {
        "photos.tar.gz": (tar.getvalue(), r"is a compressed file that is not text \(tar archive\)"),
        "pic.gz": (gzip.compress(PNG), r"is a compressed file that is not text \(PNG image\)"),
        "twice.gz": (
            gzip.compress(gzip.compress(b"x")),
            r"is a compressed file that is not text \(compressed twice\)",
        ),
        "nothing.gz": (gzip.compress(b""), r"is an empty file once decompressed"),
        "cut.gz": (gzip.compress(_numbered_text(400, 8).encode())[:200], r"is damaged"),
    }
    for name, (data, why) in cases.items():
        path = _write(tmp_path / name, data)
        with pytest.raises(DocumentError, match=re.escape(name) + " " + why):
            read_document(path)
    assert "tar archive" in quick_refusal(tmp_path / "photos.tar.gz").message


def _write_bomb(path: Path, block: bytes, total: int) -> Path:
    """``total`` bytes of ``block`` gzipped as they are made: never all in memory."""
    with gzip.open(path, "wb", compresslevel=1) as f:
        for _ in range(total // len(block)):
            f.write(block)
    return path


def test_a_gzip_bomb_stops_at_the_size_cap_without_taking_the_memory(tmp_path):
    cap = 4 << 20
    text = _write_bomb(tmp_path / "bomb.txt.gz", b"all work and no play\n" * 50_000, 200 << 20)
    zeros = _write_bomb(tmp_path / "zeros.gz", bytes(1 << 20), 200 << 20)
    assert text.stat().st_size < cap and zeros.stat().st_size < cap  # small on disk
    tracemalloc.start()
    try:
        with pytest.raises(
            DocumentError, match=r"too large once decompressed \(the limit is 4\.0 MB\)"
        ):
            read_document(text, max_bytes=cap)
        with pytest.raises(DocumentError, match=r"zeros\.gz is a compressed file that is not text"):
            read_document(zeros, max_bytes=cap)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 * cap  # not 200 MB: unpacking stops at the cap


def test_iter_files_yields_every_file_and_names_a_big_one_for_what_it_is(tmp_path):
    gpl = _write(tmp_path / "GPL-3", "GNU GENERAL PUBLIC LICENSE")
    log_file = _write(tmp_path / "big.log", "x" * 2048)
    film = _write(tmp_path / "film", b"\x1aE\xdf\xa3" + bytes(2048))
    (tmp_path / "gone.mp3").symlink_to(tmp_path / "nowhere.mp3")
    assert list(iter_files([tmp_path], max_bytes=1000)) == [
        (gpl, None),
        (log_file, "too large (2.0 KB; the limit is 1000 bytes)"),
        (film, "not text (Matroska or WebM video)"),  # a higher limit would not help
        (tmp_path / "gone.mp3", "broken link"),
    ]


# --- file-level refusals -----------------------------------------------------


def test_file_over_the_cap_is_refused_with_its_size(tmp_path):
    path = _write(tmp_path / "big.txt", "x" * 2048)
    with pytest.raises(DocumentError, match=r"too large \(2\.0 KB; the limit is 1000 bytes\)"):
        read_document(path, max_bytes=1000)
    assert list(iter_files([tmp_path], max_bytes=1000)) == [
        (path, "too large (2.0 KB; the limit is 1000 bytes)")
    ]


def test_unreadable_file_is_permission_denied(tmp_path, monkeypatch):
    path = _write(tmp_path / "secret.txt", "private")
    real_open = Path.open

    def deny(self: Path, *args, **kwargs):
        if self.name == "secret.txt":
            raise PermissionError(13, "Permission denied", str(self))
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", deny)
    with pytest.raises(DocumentError, match=r"secret\.txt could not be read: permission denied"):
        read_document(path)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("missing.txt", r"missing\.txt was not found"),
        ("folder.md", r"folder\.md is not a regular file"),
        ("photo.png", r"photo\.png is not text \(PNG image\)"),
        ("empty.md", r"empty\.md has no text to index\. It is empty"),
    ],
)
def test_other_refusals(tmp_path, name, expected):
    (tmp_path / "folder.md").mkdir()
    _write(tmp_path / "photo.png", PNG)
    _write(tmp_path / "empty.md", "  \n\n")
    with pytest.raises(DocumentError, match=expected):
        read_document(tmp_path / name)


# --- walking folders ---------------------------------------------------------


def test_iter_files_walks_once_reports_problems_and_ignores_junk(tmp_path):
    root = tmp_path / "docs"
    for rel in ["b.md", "a/one.txt", "a/deep/two.html", "z.PDF", "named.png", ".hidden.txt"]:
        _write(root / rel, "text")
    for rel in [".git/x.md", ".cache/y.txt", "node_modules/pkg/readme.md", "__pycache__/z.txt"]:
        _write(root / rel, "junk")
    (root / "a" / "loop").symlink_to("..")  # a/loop -> docs
    (root / "broken.txt").symlink_to(root / "gone.txt")
    (root / "dupe.md").symlink_to(root / "b.md")  # same real file as b.md
    (root / "a2").symlink_to(root / "a")  # same real folder as a
    got = list(iter_files([root, root / "b.md", tmp_path / "nope"]))
    assert got == [
        (root / "a" / "deep" / "two.html", None),
        (root / "a" / "loop", "symlink loop"),
        (root / "a" / "one.txt", None),
        (root / "b.md", None),
        (root / "broken.txt", "broken link"),
        (root / "named.png", None),  # its content decides, and it holds text
        (root / "z.PDF", None),
        (tmp_path / "nope", "not found"),
    ]


def test_iter_files_reports_an_unreadable_folder(tmp_path, monkeypatch):
    _write(tmp_path / "ok.txt", "fine")
    _write(tmp_path / "locked" / "x.txt", "hidden from us")
    real_scandir = os.scandir

    def scandir(path):
        if Path(path).name == "locked":
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(doc_files.os, "scandir", scandir)
    assert list(iter_files([tmp_path])) == [
        (tmp_path / "locked", "permission denied"),
        (tmp_path / "ok.txt", None),
    ]


def test_a_file_named_directly_is_yielded_or_explained(tmp_path):
    note = _write(tmp_path / ".notes.md", "hidden but asked for")
    png = _write(tmp_path / "x.png", PNG)
    assert list(iter_files([note, png])) == [(note, None), (png, None)]
    assert quick_refusal(note) is None
    assert quick_refusal(png).message == "x.png is not text (PNG image)."


# --- chunking ----------------------------------------------------------------


def _numbered_text(n_sentences: int, words_per_sentence: int) -> str:
    """Unique words, so each passage can be located in the source exactly."""
    sentences, k = [], 0
    for _ in range(n_sentences):
        words = [f"w{k + i}" for i in range(words_per_sentence)]
        k += words_per_sentence
        sentences.append(" ".join(words).capitalize() + ".")
    paras = [" ".join(sentences[i : i + 4]) for i in range(0, len(sentences), 4)]
    return "\n\n".join(paras)


def _spans(text: str, passages: list[Passage]) -> list[tuple[int, int]]:
    spans, pos = [], 0
    for p in passages:
        start = text.find(p.text, pos)
        assert start >= 0, f"passage {p.ordinal} is not an exact slice of the section"
        spans.append((start, start + len(p.text)))
        pos = start + 1
    return spans


def _assert_covers(text: str, spans: list[tuple[int, int]]) -> None:
    covered = set()
    for start, end in spans:
        covered.update(range(start, end))
    missing = [i for i, ch in enumerate(text) if not ch.isspace() and i not in covered]
    assert not missing, f"text not covered: {text[missing[0] : missing[0] + 30]!r}"


def test_chunks_are_bounded_overlap_at_word_starts_and_cover_everything():
    text = _numbered_text(40, 9)
    passages = chunk_sections([Section(text, page=3, heading="A > B")], max_chars=300, overlap=80)
    assert len(passages) > 5
    assert [p.ordinal for p in passages] == list(range(len(passages)))
    assert all(len(p.text) <= 300 and (p.page, p.heading) == (3, "A > B") for p in passages)
    spans = _spans(text, passages)
    _assert_covers(text, spans)
    for (_, prev_end), (start, _) in itertools.pairwise(spans):
        assert 0 < prev_end - start <= 80, "neighbours should share a tail of the previous"
        assert text[start - 1].isspace(), "overlap must start at a word, not mid-word"


def test_chunks_never_cross_sections():
    a, b = _numbered_text(10, 8), "Second section, short."
    passages = chunk_sections([Section(a, page=1), Section(b, page=2), Section("  \n ", page=3)])
    assert passages[-1] == Passage(b, len(passages) - 1, 2, None)
    assert {p.page for p in passages} == {1, 2}
    assert all(b not in p.text for p in passages[:-1])


def test_long_sentence_splits_at_words_and_giant_word_is_cut_hard():
    sentence = " ".join(f"token{i}" for i in range(120))  # ~900 chars, no full stop
    giant = "x" * 250
    text = f"{sentence}\n\n{giant} tail."
    passages = chunk_sections([Section(text)], max_chars=200, overlap=40)
    assert all(len(p.text) <= 200 for p in passages)
    _assert_covers(text, _spans(text, passages))
    words = set(text.split())
    for p in passages:
        if "x" * 10 not in p.text:  # outside the giant word every word is whole
            assert set(p.text.split()) <= words
    assert sum(p.text.count("x") for p in passages) == 250  # no overlap inside a hard cut


@pytest.mark.parametrize(("max_chars", "overlap"), [(99, 10), (200, 200), (200, 500), (200, -1)])
def test_bad_chunk_arguments_raise(max_chars, overlap):
    with pytest.raises(ValueError):
        chunk_sections([Section("text")], max_chars=max_chars, overlap=overlap)
