"""XLSX (Excel 2007+): one page per sheet, its name a heading, its rows as ``column: value`` lines and a `Table`.

Read by openpyxl in read-only mode, rows streamed one at a time, with each formula's value as Excel last
calculated and saved it (a formula never calculated, as written by some libraries, has no value). The first
row holding a value is the sheet's header, as in CSV. Cells holding a value are counted while the rows
stream: past `ParseLimits.max_cells` the parse stops with DOCUMENT_TOO_LARGE before the rest is read.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import ParseError as XMLParseError

from vecflow.pipeline.detect import XLSX
from vecflow.pipeline.parse.archive import ZIP_ERRORS, corrupt, open_package, refuse_ole
from vecflow.pipeline.parse.model import (
    DocumentMetadata,
    Heading,
    PageSpan,
    ParsedDocument,
    ParseLimits,
    Table,
    library,
    require_text,
    too_large,
)
from vecflow.pipeline.parse.text import clean, properties_metadata

_APP = "Excel or LibreOffice Calc"


def cell_text(value: Any) -> str:
    """A cell's value as a person reads it: integers without ".0", 15 significant digits, ISO dates."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return format(value, ".15g")
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(sep=" ")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return " ".join(str(value).split())


class _Counter:
    """Cells with a value and characters of text so far, against the limits."""

    def __init__(self, limits: ParseLimits) -> None:
        self.limits = limits
        self.cells = 0
        self.characters = 0

    def add(self, cells: int, characters: int) -> None:
        self.cells += cells
        self.characters += characters
        if self.cells > self.limits.max_cells:
            raise too_large("workbook", self.limits.max_cells, "cells with a value", "VECFLOW_PARSE_MAX_CELLS")
        if self.characters > self.limits.max_characters:
            raise too_large("text", self.limits.max_characters, "characters", "VECFLOW_PARSE_MAX_CHARACTERS")


def _rows(sheet: Any) -> Iterator[list[str]]:
    """The sheet's rows as text, trailing empty cells dropped, empty rows skipped."""
    # Declared dimensions can be wrong (or crafted): without them a row is as wide as its last cell.
    sheet.reset_dimensions()
    for row in sheet.iter_rows(values_only=True):
        values = [cell_text(value) for value in row]
        while values and not values[-1]:
            values.pop()
        if values:
            yield values


def _sheet(sheet: Any, counter: _Counter) -> tuple[list[str], Table]:
    """A sheet's lines (name, header, one ``column: value`` line per row) and its table."""
    lines = [" ".join(str(sheet.title).split()) or "Sheet"]
    header: list[str] | None = None
    rows: list[list[str]] = []
    for values in _rows(sheet):
        if header is None:
            header = [value or f"column {i + 1}" for i, value in enumerate(values)]
            line = ", ".join(header)
        else:
            rows.append(values)
            names = header + [f"column {i + 1}" for i in range(len(header), len(values))]
            line = ", ".join(f"{name}: {value}" for name, value in zip(names, values, strict=False) if value)
        lines.append(line)
        counter.add(sum(1 for value in values if value), len(line) + 1)
    return lines, Table(header=header or [], rows=rows, source=f"xlsx sheet {sheet.title}")


def _metadata(workbook: Any) -> DocumentMetadata:
    props = workbook.properties
    return properties_metadata(props.title, props.creator, props.created, props.modified, props.language)


def parse_xlsx(path: Path, charset: str | None, limits: ParseLimits) -> ParsedDocument:
    refuse_ole(
        path,
        "XLSX",
        unlock="File > Info > Protect Workbook > Encrypt with Password in Excel",
        legacy="a legacy Excel 97-2003 (.xls) workbook",
    )
    names = open_package(path, "XLSX", _APP, limits)
    if "[Content_Types].xml" not in names:
        raise corrupt("XLSX", "the ZIP package has no workbook in it", _APP)

    import openpyxl
    from lxml import etree
    from openpyxl.utils.exceptions import InvalidFileException

    errors = (*ZIP_ERRORS, TypeError, IndexError, XMLParseError, etree.XMLSyntaxError, InvalidFileException)
    pages: list[PageSpan] = []
    headings: list[Heading] = []
    tables: list[Table] = []
    parts: list[str] = []
    length = 0
    counter = _Counter(limits)
    # A file object, not the path: openpyxl refuses paths without an Excel extension (stored blobs have none).
    with path.open("rb") as fp:
        try:
            workbook = openpyxl.load_workbook(fp, read_only=True, data_only=True, keep_links=False)
        except errors as exc:
            raise corrupt("XLSX", f"the workbook cannot be opened: {exc}", _APP) from exc
        try:
            meta = _metadata(workbook)
            for number, sheet in enumerate(workbook.worksheets, start=1):
                lines, table = _sheet(sheet, counter)
                text = clean("\n".join(lines))
                start = length + (2 if parts else 0)
                headings.append(Heading(1, lines[0], start))
                parts.append(text)
                length = start + len(text)
                pages.append(PageSpan(number, start, length))
                tables.append(table)
        except errors as exc:
            raise corrupt("XLSX", f"a sheet cannot be read: {exc}", _APP) from exc
        finally:
            workbook.close()
    if not any(table.header for table in tables):
        require_text("", "XLSX workbook")
    return ParsedDocument(
        text="\n\n".join(parts),
        content_type=XLSX,
        parser=library("openpyxl"),
        pages=pages,
        metadata=meta,
        tables=[table for table in tables if table.header],
        headings=headings,
    )
