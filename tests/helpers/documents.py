"""A small folder of the user's documents: a PDF of three pages, Markdown notes, a
damaged PDF and a binary file named .txt."""

from __future__ import annotations

from pathlib import Path

from fpdf import FPDF

KETTLE_PAGES = [
    "Orion Kettle User Guide. Thank you for buying the Orion electric kettle. "
    "Read these instructions before first use.",
    "Descaling. Descale the kettle every four weeks. Fill it with equal parts white vinegar "
    "and water, boil, and leave it for one hour. Rinse twice with clean water.",
    "Warranty. The Orion kettle has a warranty of three years from the date of purchase. "
    "Keep your receipt. The warranty does not cover damage from dropping the kettle.",
]
GARDEN = (
    "# Garden notes\n\n## Tomatoes\n\nPlant tomatoes in late May, 60 cm apart. Water them at "
    "the base every morning.\n\n## Roses\n\nPrune the roses in early March, just above an "
    "outward-facing bud.\n"
)


def make_docs(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    pdf = FPDF()
    pdf.set_font("Helvetica", size=12)
    for text in KETTLE_PAGES:
        pdf.add_page()
        pdf.multi_cell(0, 8, text)
    pdf.output(str(folder / "kettle-guide.pdf"))
    (folder / "garden.md").write_text(GARDEN)
    (folder / "broken.pdf").write_bytes(b"%PDF-1.4 not really" * 20)
    (folder / "photo.txt").write_bytes(b"\x00\x01\x02binary" * 50)
    return folder
