"""PDF tables: ruled tables on pages with a text layer, found by pdfplumber within a page, time and cell budget.

pdfplumber reads each page's characters and ruling lines through pdfminer.six (the text itself comes from
pdf.py's parsers) and builds tables from the lines it finds ("lines" strategy: tables drawn with borders; text
merely laid out in columns is not taken for a table). Finding tables costs more than reading the text (see
bench/pdf_tables.py), so a page whose content stream draws fewer than `MIN_RULES` rectangles and lines (and
no forms) is not handed to pdfplumber at all, a page drawn with more than `MAX_PAGE_EDGES` lines (a chart, a
map) is passed over, and a document's search stops after `ParseLimits.max_table_pages` pages
(VECFLOW_PARSE_MAX_TABLE_PAGES, 0 turns it off), `MAX_SECONDS` seconds or `MAX_CELLS` cells; the parser
string then says how far the search went. A failure here never fails the parse: the text stands.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from vecflow.pipeline.parse.model import Table, library

MAX_SECONDS = 60.0  # backstop on the search's wall time per document
MAX_CELLS = 100_000  # table cells kept per document
MAX_PAGE_EDGES = 5_000  # ruling lines and rectangle sides on a page past which it is not searched

_WORD = re.compile(r"\w\w")  # a word or number of two characters or more
# A page's content stream with its strings blanked out, and its path operators: rectangles and straight lines.
_STRINGS = re.compile(rb"\((?:\\.|[^\\()])*\)|<[0-9A-Fa-f\s]*>", re.DOTALL)
_RULES = re.compile(rb"(?<![^\s\])>])(?:re|l)(?=\s)")
MIN_RULES = 3  # path operators a page needs before it is searched: a 2 x 2 grid is one rectangle and two lines
_SETTINGS = {"vertical_strategy": "lines", "horizontal_strategy": "lines"}


def _cell(value: str | None) -> str:
    return " ".join(value.split()) if value else ""


def _table_rows(raw: list[list[str | None]]) -> list[list[str]] | None:
    """The table's rows with cell text on one line, or None when it is no data table (a figure's frame)."""
    rows = [[_cell(value) for value in row] for row in raw]
    rows = [row for row in rows if any(row)]
    if len(rows) < 2 or max(len(row) for row in rows) < 2:
        return None
    cells = [value for row in rows for value in row]
    filled = [value for value in cells if value]
    if len(filled) * 2 < len(cells) or any("(cid:" in value for value in filled):
        return None  # mostly empty boxes, or glyphs without a Unicode mapping: lines of a drawing
    worded = sum(1 for value in filled if _WORD.search(value))
    if worded < 2 or worded * 3 < len(filled):
        return None  # single letters and digits in boxes: the labels of a figure ("x", "0", "*")
    return rows


def _may_hold_table(page_obj: Any) -> bool:
    """Whether the page draws enough rectangles and lines for a ruled table, or draws through forms (whose
    content is not looked into): cheap, read from the raw content stream, and never False for a page with one."""
    from pdfminer.pdftypes import resolve1

    try:
        data = b"\n".join(resolve1(stream).get_data() for stream in page_obj.contents)
        if len(_RULES.findall(_STRINGS.sub(b" ", data))) >= MIN_RULES:
            return True
        xobjects = resolve1((page_obj.resources or {}).get("XObject")) or {}
        return any(
            getattr(resolve1(x).attrs.get("Subtype"), "name", None) == "Form"
            for x in xobjects.values()
            if hasattr(resolve1(x), "attrs")
        )
    except Exception:  # a stream pdfminer cannot decode: let pdfplumber try the page
        return True


def _edges(page: Any) -> int:
    objects = page.objects
    return len(objects.get("line", ())) + 4 * len(objects.get("rect", ())) + len(objects.get("curve", ()))


def find_tables(path: Path, page_texts: Sequence[str], parser: str, max_pages: int) -> tuple[list[Table], str]:
    """Tables of the PDF at `path` ("pdf page N table K") and `parser` with what pdfplumber added.

    `page_texts` are the pages' extracted texts: pages without text (no text layer) are not searched, nor
    any past the first `max_pages` with text (`ParseLimits.max_table_pages`; 0: none).
    """
    try:
        import pdfplumber
        from pdfminer.pdfpage import PDFPage
        from pdfplumber.page import Page
    except ImportError:
        return [], parser
    wanted = [number for number, text in enumerate(page_texts, start=1) if text.strip()]
    searched = set(wanted[: max(0, max_pages)])
    if not searched:
        return [], parser
    last_wanted = max(searched)
    tables: list[Table] = []
    cells = 0
    last = 0  # the last page searched
    stop = ""
    started = time.monotonic()
    try:
        with path.open("rb") as stream:
            # Pages one at a time from the page tree: pdfplumber.open's `pages` (and its close) walk every page.
            pdf = pdfplumber.PDF(stream, password="")
            for number, page_obj in enumerate(PDFPage.create_pages(pdf.doc), start=1):
                if number > last_wanted:
                    break
                if number not in searched:
                    continue
                if time.monotonic() - started > MAX_SECONDS:
                    stop = f"time limit of {MAX_SECONDS:.0f} s"
                    break
                if not _may_hold_table(page_obj):
                    last = number
                    continue
                page = Page(pdf, page_obj, page_number=number)
                try:
                    if _edges(page) <= MAX_PAGE_EDGES:
                        on_page = 0
                        for table in page.find_tables(_SETTINGS):
                            if cells + len(table.cells) > MAX_CELLS:
                                stop = f"limit of {MAX_CELLS:,} cells"
                                break
                            rows = _table_rows(table.extract())
                            if rows is None:
                                continue
                            cells += len(table.cells)
                            on_page += 1
                            source = f"pdf page {number} table {on_page}"
                            tables.append(Table(header=rows[0], rows=rows[1:], source=source))
                except Exception:  # one unreadable page loses its tables, not the others'
                    pass
                finally:
                    page.close()
                if stop:
                    break
                last = number
    except Exception:  # pdfplumber cannot read what pypdf or pdfminer could: the text stands without tables
        stop = stop or "the file could not be read for tables"
    if not stop and len(wanted) > len(searched):
        stop = f"limit of {max_pages:,} pages"
    if stop:
        searched_to = f"to page {last} of {len(page_texts)}"
        return tables, _shorten(f"{parser}; tables: {library('pdfplumber')} {searched_to} ({stop})")
    if tables:
        return tables, _shorten(f"{parser}; tables: {library('pdfplumber')}")
    return tables, parser


def _shorten(parser: str) -> str:
    return parser if len(parser) <= 100 else parser[:99] + "…"  # the parser column holds 128, OCR may add to it
