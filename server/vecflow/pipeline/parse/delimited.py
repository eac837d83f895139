"""CSV and TSV: a header line, then one ``column: value`` line per row, plus the whole file as a `Table`."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

from vecflow.pipeline.detect import CSV, TSV
from vecflow.pipeline.parse.encoding import BOMS, SAMPLE, WEB_LATIN1, codec_name, guess_encoding, sample
from vecflow.pipeline.parse.model import (
    CORRUPT_FILE,
    EMPTY_FILE,
    PYTHON,
    UNDECODABLE_TEXT,
    DocumentMetadata,
    ParsedDocument,
    ParseError,
    ParseLimits,
    Table,
    require_text,
    whole,
)
from vecflow.pipeline.parse.text import clean


def _csv_encoding(path: Path, charset: str | None) -> str:
    """The encoding of a CSV file, judged on its first bytes (BOM-aware codecs skip the BOM themselves)."""
    with path.open("rb") as fp:
        head = fp.read(SAMPLE)
    for bom, encoding in BOMS:
        if head.startswith(bom):
            return {"utf-8": "utf-8-sig", "utf-16-le": "utf-16", "utf-16-be": "utf-16"}.get(encoding, "utf-32")
    declared = codec_name(charset)
    if declared:
        return "cp1252" if declared in WEB_LATIN1 else declared
    if b"\x00" not in head:
        try:
            head.decode("utf-8")
            return "utf-8"
        except UnicodeDecodeError as exc:
            if exc.start >= len(head) - 3 and len(head) == SAMPLE:
                return "utf-8"  # a character cut at the end of the sample
    return guess_encoding(sample(head), "CSV file")


def _csv_rows(path: Path, charset: str | None, delimiter: str | None) -> Iterator[list[str]]:
    encoding = _csv_encoding(path, charset)
    errors = "vecflow-latin1" if encoding == "cp1252" else "strict"
    with path.open(encoding=encoding, errors=errors, newline="") as stream:
        sample = stream.read(SAMPLE)
    if not sample.strip():
        raise ParseError(EMPTY_FILE, "The CSV file contains no text (only whitespace). Upload a file with data.")
    dialect: type[csv.Dialect] | csv.Dialect = csv.excel_tab if delimiter == "\t" else csv.excel
    if delimiter is None:
        try:
            dialect = csv.Sniffer().sniff(sample, delimiters=",;\t|")
        except csv.Error:
            pass
    del sample
    with path.open(encoding=encoding, errors=errors, newline="") as stream:
        try:
            yield from csv.reader(stream, dialect)
        except csv.Error as exc:
            raise ParseError(
                CORRUPT_FILE,
                f"The CSV file is malformed ({exc}). Check its quoting and delimiters, then upload it again.",
            ) from exc


def parse_csv(path: Path, charset: str | None, limits: ParseLimits, *, delimiter: str | None = None) -> ParsedDocument:
    header: list[str] | None = None
    rows: list[list[str]] = []
    lines: list[str] = []
    try:
        for row in _csv_rows(path, charset, delimiter):
            values = [v.strip() for v in row]
            if not any(values):
                continue
            if header is None:
                header = [v or f"column {i + 1}" for i, v in enumerate(values)]
                lines.append(", ".join(header))
                continue
            rows.append(values)
            names = header + [f"column {i + 1}" for i in range(len(header), len(values))]
            pairs = [f"{name}: {value}" for name, value in zip(names, values, strict=False) if value]
            lines.append(", ".join(pairs))
    except UnicodeDecodeError as exc:
        raise ParseError(
            UNDECODABLE_TEXT,
            f"The CSV file mixes text encodings or contains binary data ({exc.reason} at byte {exc.start}). "
            "Save it as UTF-8 and upload it again.",
        ) from exc
    text = require_text(clean("\n".join(lines)), "CSV file")
    media_type = TSV if delimiter == "\t" else CSV
    source = "tsv" if media_type == TSV else "csv"
    return ParsedDocument(
        text=text,
        content_type=media_type,
        parser=f"csv ({PYTHON})",
        pages=whole(text),
        metadata=DocumentMetadata(),
        tables=[Table(header=header or [], rows=rows, source=source)],
    )
