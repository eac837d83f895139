"""Parsing speed per format on one core: vecflow's parser beside the library it uses, called directly on the
same file (goal: vecflow ≥ 0.9× the library alone).

    .venv/bin/python bench/parse.py            # the sizes below, best of 5 runs each, in turns (a few minutes)
    .venv/bin/python bench/parse.py --quick    # smaller files, one timed run

"Library alone" does the least a caller of that library must do to get the same text out: pypdf's
extract_text per page; python-pptx's text frames, tables and notes per slide; openpyxl's read-only rows
(values only) per sheet; the book's chapters through BeautifulSoup's get_text (ebooklib reads the EPUB);
email's body and attachments' get_content; odfdo's get_formatted_text; striprtf's rtf_to_text.
vecflow's figure is `parse_document` on the file (detection not included, language detection off), in this
process, pinned to one core. Pages: PDF pages, slides, sheets, chapters; ODT, RTF and EML count one page per
file (EML: one per message and per attachment read). The fixtures are generated (tests/helpers).
"""

from __future__ import annotations

import argparse
import functools
import io
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from common import ROOT

sys.path.insert(0, str(ROOT / "tests"))
from helpers import format_files as ff
from helpers import hostile_files as hf
from vecflow.pipeline.detect import EML, EPUB, ODT, PDF, PPTX, RTF, XLSX
from vecflow.pipeline.parse import parse_document


def pdf_alone(path: Path) -> int:
    from pypdf import PdfReader

    reader = PdfReader(path)
    return sum(1 for page in reader.pages if page.extract_text() is not None)


def pptx_alone(path: Path) -> int:
    from pptx import Presentation

    slides = 0
    for slide in Presentation(str(path)).slides:
        parts = []
        for shape in slide.shapes:
            if shape.has_text_frame:
                parts.append(shape.text_frame.text)
            elif getattr(shape, "has_table", False) and shape.has_table:
                parts.extend(cell.text for row in shape.table.rows for cell in row.cells)
        if slide.has_notes_slide:
            parts.append(slide.notes_slide.notes_text_frame.text)
        slides += 1
    return slides


def xlsx_alone(path: Path) -> int:
    import openpyxl

    with path.open("rb") as fp:
        book = openpyxl.load_workbook(fp, read_only=True, data_only=True)
        sheets = 0
        for sheet in book.worksheets:
            for row in sheet.iter_rows(values_only=True):
                _ = [str(v) for v in row if v is not None]
            sheets += 1
        book.close()
    return sheets


def epub_alone(path: Path) -> int:
    import ebooklib
    from bs4 import BeautifulSoup
    from ebooklib import epub

    book = epub.read_epub(str(path), {"ignore_ncx": True})
    chapters = 0
    for idref, _linear in book.spine:
        item = book.get_item_with_id(idref)
        if item is not None and item.get_type() == ebooklib.ITEM_DOCUMENT:
            text = BeautifulSoup(item.get_content(), "lxml").get_text("\n")
            chapters += bool(text.strip())
    return chapters


def eml_alone(path: Path) -> int:
    import email
    from email import policy

    with path.open("rb") as fp:
        message = email.message_from_binary_file(fp, policy=policy.default)
    body = message.get_body(preferencelist=("plain", "html"))
    parts = [body.get_content()] if body is not None else []
    parts.extend(part.get_content() for part in message.iter_attachments())
    return len(parts)


def odt_alone(path: Path) -> int:
    from odfdo import Document

    Document(path).get_formatted_text()
    return 1


def rtf_alone(path: Path) -> int:
    from striprtf.striprtf import rtf_to_text

    rtf_to_text(path.read_bytes().decode("latin-1"), errors="ignore")
    return 1


def eml_file(quick: bool) -> bytes:
    """A message with a long plain body and ten text attachments (every part read by both sides)."""
    from email.message import EmailMessage

    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "a@example.com", "b@example.com", "Minutes"
    message["Date"] = "Mon, 02 Jun 2025 09:30:00 +0000"
    paragraph = "The committee discussed the analytical engine's store, mill and punched cards at length.\n"
    message.set_content(paragraph * (200 if quick else 2000))
    for number in range(10):
        message.add_attachment(paragraph * (50 if quick else 500), filename=f"notes-{number}.txt")
    return message.as_bytes()


def rtf_file(quick: bool) -> bytes:
    paragraph = b"Memo about the caf\\'e9 meeting and the engine\\u8217?s mill, {\\b bold} words.\\par\n"
    return b"{\\rtf1\\ansi\\ansicpg1252{\\fonttbl{\\f0 Arial;}}\\f0 " + paragraph * (2000 if quick else 20000) + b"}"


def odt_file(quick: bool) -> bytes:
    from odfdo import Document, Header, Paragraph

    document = Document("text")
    for number in range(40 if quick else 400):
        document.body.append(Header(1 + number % 2, f"Section {number}"))
        for _ in range(5):
            document.body.append(Paragraph(f"Paragraph of section {number}: the engine weaves algebraic patterns."))
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def xlsx_file(quick: bool) -> bytes:
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    for number in range(5 if quick else 20):
        sheet = book.create_sheet(f"Sheet {number}")
        sheet.append(["id", "name", "units", "price", "region", "note"])
        for i in range(100 if quick else 500):
            sheet.append([i, f"Widget {i}", i % 7, 1.5 * i, "North" if i % 2 else "South", "kept in stock"])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def cases(quick: bool) -> list[tuple[str, str, bytes, Callable[[Path], int]]]:
    return [
        ("PDF (text layer)", PDF, hf.pdf_pages(100 if quick else 1000), pdf_alone),
        ("PPTX", PPTX, ff.pptx_deck(20 if quick else 200), pptx_alone),
        ("XLSX", XLSX, xlsx_file(quick), xlsx_alone),
        ("EPUB", EPUB, ff.epub_book(20 if quick else 200), epub_alone),
        ("EML", EML, eml_file(quick), eml_alone),
        ("ODT", ODT, odt_file(quick), odt_alone),
        ("RTF", RTF, rtf_file(quick), rtf_alone),
    ]


def vecflow_pages(path: Path, media_type: str) -> int:
    return len(parse_document(path, media_type, detect_language=False).pages)


def side_by_side(ours: Callable[[], int], theirs: Callable[[], int], runs: int) -> tuple[float, float, int]:
    """The fastest of `runs` timed calls of each, taken in turns (the machine's noise hits both alike), after
    one untimed call of each (imports, caches). Returns (our seconds, their seconds, pages)."""
    ours(), theirs()
    best_ours = best_theirs = float("inf")
    pages = 0
    for _ in range(runs):
        started = time.perf_counter()
        pages = ours()
        best_ours = min(best_ours, time.perf_counter() - started)
        started = time.perf_counter()
        theirs()
        best_theirs = min(best_theirs, time.perf_counter() - started)
    return best_ours, best_theirs, pages


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smaller files, one run each")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    runs = 1 if args.quick else 5
    print("| Format | File | Pages | vecflow pages/s | library alone pages/s | ratio |")
    print("|---|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as scratch:
        for label, media_type, data, alone in cases(args.quick):
            path = Path(scratch) / "document"
            path.write_bytes(data)
            ours, theirs, pages = side_by_side(
                functools.partial(vecflow_pages, path, media_type), functools.partial(alone, path), runs
            )
            rate, base = pages / ours, pages / theirs
            print(
                f"| {label} | {len(data) / 1024:,.0f} KiB | {pages:,} | {rate:,.1f} | {base:,.1f} | {rate / base:.2f}× |"
            )


if __name__ == "__main__":
    main()
