"""Parse results and failures: the dataclasses `parse_document` returns, `ParseError` and its codes, `ParseLimits`."""

from __future__ import annotations

import functools
import sys
from dataclasses import dataclass, field
from importlib import metadata as importlib_metadata

EMPTY_FILE = "EMPTY_FILE"
CORRUPT_FILE = "CORRUPT_FILE"
ENCRYPTED_DOCUMENT = "ENCRYPTED_DOCUMENT"
NO_TEXT_LAYER = "NO_TEXT_LAYER"
UNDECODABLE_TEXT = "UNDECODABLE_TEXT"
UNSUPPORTED_TYPE = "UNSUPPORTED_TYPE"
DOCUMENT_TOO_LARGE = "DOCUMENT_TOO_LARGE"


@dataclass
class PageSpan:
    """Page `number` (1-based) covers ``text[char_start:char_end]``."""

    number: int
    char_start: int
    char_end: int
    ocr_confidence: float | None = None  # mean OCR confidence 0–1 when the page's text came from OCR, else None


@dataclass
class Heading:
    """A heading at ``text[char_start:]``: `level` 1 is the top (h1, "Heading 1", ``#``, a PDF outline's root)."""

    level: int
    title: str
    char_start: int


@dataclass
class DocumentMetadata:
    title: str | None = None
    authors: list[str] = field(default_factory=list)
    created: str | None = None  # ISO 8601
    modified: str | None = None  # ISO 8601
    language: str | None = None  # ISO 639-1: declared by the document, else detected
    page_count: int = 1


@dataclass
class Table:
    header: list[str]
    rows: list[list[str]]
    source: str  # "docx table 1", "html table 2", "csv"


@dataclass
class ParsedDocument:
    text: str
    content_type: str
    parser: str  # library name and version, e.g. "pypdf 7.1.0"
    pages: list[PageSpan]
    metadata: DocumentMetadata
    tables: list[Table] = field(default_factory=list)
    headings: list[Heading] = field(default_factory=list)  # in text order; the section structure of the text


class ParseError(Exception):
    """A document that cannot be turned into text; `code` is one of the module's codes."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def __repr__(self) -> str:
        return f"ParseError({self.code!r}, {self.message!r})"


@dataclass(frozen=True)
class ParseLimits:
    """How much one document may make a parser hold (`VECFLOW_PARSE_MAX_*`; see docs/api.md, "Limits")."""

    max_characters: int = 32_000_000  # characters of extracted text
    max_expanded_bytes: int = 256 * 1024 * 1024  # bytes an archive (DOCX, PPTX, XLSX, EPUB, ODT) unpacks to, as read
    max_cells: int = 2_000_000  # spreadsheet cells holding a value (XLSX), counted while rows stream
    max_ocr_pages: int = 500  # pages of one document that OCR may read (images, PDF pages without text)
    max_table_pages: int = 300  # PDF pages searched for ruled tables (pdf_tables.py); 0: no table search


def too_large(what: str, limit: int, unit: str, setting: str) -> ParseError:
    return ParseError(
        DOCUMENT_TOO_LARGE,
        f"The {what} is over the limit of {limit:,} {unit} per document. Split it into smaller documents, "
        f"or ask the operator to raise {setting}.",
    )


@functools.cache
def library(name: str) -> str:
    try:
        return f"{name} {importlib_metadata.version(name)}"
    except importlib_metadata.PackageNotFoundError:
        return name


PYTHON = f"Python {sys.version_info.major}.{sys.version_info.minor}"


def whole(text: str) -> list[PageSpan]:
    return [PageSpan(1, 0, len(text))]


def require_text(text: str, what: str) -> str:
    if not text.strip():
        raise ParseError(EMPTY_FILE, f"The {what} contains no text (only whitespace). Upload a file that has content.")
    return text
