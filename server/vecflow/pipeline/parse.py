"""Document parsing: a file on disk and its media type in, text with structure out.

`parse_document` is synchronous and CPU-bound; the server runs it in a worker
process (`vecflow.pipeline.parse_worker`) under a memory budget. It returns a `ParsedDocument`: the text (what gets chunked and
embedded), page spans into that text, metadata and any tables found. Formats:

- PDF: pypdf, falling back to pdfminer.six when pypdf cannot read the file or
  extracts much less text. Page texts are joined with a blank line; reading
  order of multi-column layouts is whatever the library gives.
- DOCX: python-docx for the package and core properties; text from the body
  (paragraphs, tables rendered as ``cell | cell`` rows, content controls, text
  boxes), then footnotes, endnotes, headers and footers.
- HTML: decoded by BOM, declared charset, ``<meta charset>`` or detection;
  scripts, styles, navigation, headers, footers and asides dropped.
- Markdown and plain text: decoded (UTF-8, UTF-16/32 with BOM, legacy
  single-byte encodings via charset-normalizer) and kept as they are.
- CSV/TSV: a header line, then one ``column: value, column: value`` line per
  row (empty values left out), plus the whole file as a `Table`.
- JSON: one ``path.to.key: value`` line per leaf value (``items[0].name: x``).

Tables use the first row as `Table.header`. Formats without pages get one
`PageSpan` covering the whole text, and `DocumentMetadata.page_count` is 1.

Failures raise `ParseError`, whose `code` is one of:

- ``EMPTY_FILE``: the file has 0 bytes, or its text is only whitespace (also a
  DOCX, HTML page or JSON value with no text in it).
- ``CORRUPT_FILE``: the file is damaged: a truncated or malformed PDF that
  neither pypdf nor pdfminer.six can read (or whose pages fail to read, for
  example objects nested too deep to walk), a DOCX that is not a readable ZIP
  package or lacks its document part, invalid JSON, malformed CSV.
- ``ENCRYPTED_DOCUMENT``: a password-protected PDF that does not open with an
  empty password, or a password-protected DOCX (which Office stores as an
  OLE compound file, magic ``D0 CF 11 E0``, not a ZIP).
- ``NO_TEXT_LAYER``: a PDF none of whose pages yields any text (scanned or
  image-only); OCR is not supported.
- ``UNDECODABLE_TEXT``: a text format (plain text, Markdown, HTML, CSV, JSON)
  whose bytes are not text in any common encoding (binary data).
- ``DOCUMENT_TOO_LARGE``: the document is over a `ParseLimits` limit: more
  characters of text than ``max_characters``, or an archive-based format
  (DOCX) whose members unpack, as actually read, past ``max_expanded_bytes``.
- ``UNSUPPORTED_TYPE``: a media type outside `vecflow.pipeline.detect.SUPPORTED`,
  or a legacy Word 97-2003 file passed as DOCX.

`ParseError.message` is a sentence a person can act on; other exceptions
(file not found, out of memory) propagate unchanged.
"""

from __future__ import annotations

import codecs
import csv
import functools
import json
import re
import sys
import threading
import unicodedata
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

from vecflow.pipeline.detect import (
    CSV,
    DOCX,
    HTML,
    JSON,
    MARKDOWN,
    PDF,
    PLAIN,
    SUPPORTED,
    TSV,
    normalize_media_type,
)

__all__ = [
    "CORRUPT_FILE",
    "DOCUMENT_TOO_LARGE",
    "EMPTY_FILE",
    "ENCRYPTED_DOCUMENT",
    "NO_TEXT_LAYER",
    "UNDECODABLE_TEXT",
    "UNSUPPORTED_TYPE",
    "DocumentMetadata",
    "PageSpan",
    "ParseError",
    "ParseLimits",
    "ParsedDocument",
    "Table",
    "language_of",
    "parse_document",
]

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


class ParseError(Exception):
    """A document that cannot be turned into text; `code` is one of the module's codes."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def __repr__(self) -> str:
        return f"ParseError({self.code!r}, {self.message!r})"


SUPPORTED_NAMES = "PDF, DOCX, HTML, Markdown, plain text, CSV and JSON"
_SAMPLE = 64 * 1024  # bytes used to guess an encoding
_LANGDETECT_SEED = 0
_TEXT_TYPES = frozenset({PLAIN, MARKDOWN, CSV, TSV, JSON})  # formats whose text is about as long as the file
_ZIP_READ = 1 << 20  # bytes a zip member is read by when its real size is measured


@dataclass(frozen=True)
class ParseLimits:
    """How much one document may make a parser hold (`VECFLOW_PARSE_MAX_*`; see docs/api.md, "Limits")."""

    max_characters: int = 32_000_000  # characters of extracted text
    max_expanded_bytes: int = 256 * 1024 * 1024  # bytes an archive (DOCX) unpacks to, as read


def _too_large(what: str, limit: int, unit: str, setting: str) -> ParseError:
    return ParseError(
        DOCUMENT_TOO_LARGE,
        f"The {what} is over the limit of {limit:,} {unit} per document. Split it into smaller documents, "
        f"or ask the operator to raise {setting}.",
    )


def parse_document(
    path: Path, content_type: str, *, detect_language: bool = True, limits: ParseLimits | None = None
) -> ParsedDocument:
    """Parse the file at `path` as `content_type` (parameters such as ``charset=`` are honoured).

    A language the document does not declare is detected from its text unless `detect_language` is
    False (the ingestion path leaves that to the extract job: it costs more than parsing a small file).
    Raises `ParseError` for documents that cannot be parsed or are over `limits`; see the module docstring.
    """
    limits = limits or ParseLimits()
    media_type = normalize_media_type(content_type)
    parser = _PARSERS.get(media_type)
    if parser is None:
        shown = media_type or "unknown"
        raise ParseError(
            UNSUPPORTED_TYPE,
            f"Files of type {shown} cannot be parsed. Convert the document to one of the supported formats "
            f"({SUPPORTED_NAMES}) and upload it again.",
        )
    size = path.stat().st_size
    if size == 0:
        raise ParseError(EMPTY_FILE, "The file is empty (0 bytes). Upload a file that has content.")
    if media_type in _TEXT_TYPES and size > 4 * limits.max_characters:  # any encoding: >= 1 character per 4 bytes
        raise _too_large("text", limits.max_characters, "characters", "VECFLOW_PARSE_MAX_CHARACTERS")
    document = parser(path, _charset_param(content_type), limits)
    if len(document.text) > limits.max_characters:
        raise _too_large("text", limits.max_characters, "characters", "VECFLOW_PARSE_MAX_CHARACTERS")
    document.content_type = media_type
    meta = document.metadata
    if meta.language is None and detect_language:
        meta.language = language_of(document.text)
    if meta.title is None and media_type in (PLAIN, MARKDOWN):
        meta.title = _first_line_title(document.text)
    meta.page_count = len(document.pages)
    return document


# --------------------------------------------------------------------------- shared helpers


@functools.cache
def _library(name: str) -> str:
    try:
        return f"{name} {importlib_metadata.version(name)}"
    except importlib_metadata.PackageNotFoundError:
        return name


_PYTHON = f"Python {sys.version_info.major}.{sys.version_info.minor}"

_LIGATURES = str.maketrans({"ﬀ": "ff", "ﬁ": "fi", "ﬂ": "fl", "ﬃ": "ffi", "ﬄ": "ffl", "ﬅ": "st", "ﬆ": "st"})
# Control characters other than tab and newline (form feeds become newlines first).
_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")
_BLANK_LINES = re.compile(r"\n[ \t]*\n(?:[ \t]*\n)+")


def _clean(text: str) -> str:
    """Newlines normalised, control characters and ligatures replaced, NFC, stripped."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\f", "\n")
    text = _CONTROLS.sub("", text).translate(_LIGATURES)
    return unicodedata.normalize("NFC", text).strip()


def _whole(text: str) -> list[PageSpan]:
    return [PageSpan(1, 0, len(text))]


def _require_text(text: str, what: str) -> str:
    if not text.strip():
        raise ParseError(EMPTY_FILE, f"The {what} contains no text (only whitespace). Upload a file that has content.")
    return text


def _charset_param(content_type: str) -> str | None:
    match = re.search(r";\s*charset\s*=\s*[\"']?([\w.:-]+)", content_type, re.IGNORECASE)
    return match.group(1) if match else None


def _language_code(value: Any) -> str | None:
    """The ISO 639-1 part of a language tag ("en-US" -> "en"), or None when it has none."""
    if not isinstance(value, str):
        return None
    primary = value.strip().replace("_", "-").split("-", 1)[0].lower()
    return primary if re.fullmatch(r"[a-z]{2}", primary) else None


_langdetect_lock = threading.Lock()


def language_of(text: str) -> str | None:
    """The ISO 639-1 code of the language `text` is written in, or None when it cannot be told."""
    sample = text[:10_000]
    if sum(ch.isalpha() for ch in sample) < 20:
        return None
    from langdetect import detector_factory
    from langdetect.lang_detect_exception import LangDetectException

    with _langdetect_lock:  # profile loading is not thread-safe
        detector_factory.init_factory()
        factory = detector_factory._factory
    if factory is None:  # pragma: no cover - init_factory always sets it
        return None
    detector = factory.create()
    detector.seed = _LANGDETECT_SEED  # deterministic: the same text always gets the same answer
    detector.append(sample)
    try:
        return _language_code(detector.detect())
    except LangDetectException:
        return None


def _first_line_title(text: str) -> str | None:
    for line in text.splitlines()[:200]:
        line = line.strip().lstrip("#").strip()
        if any(ch.isalnum() for ch in line):
            return _shorten(line)
    return None


def _shorten(value: str, limit: int = 200) -> str:
    value = " ".join(value.split())
    if len(value) <= limit:
        return value
    cut = value[:limit].rsplit(" ", 1)[0]
    return (cut or value[:limit]) + "…"


def _split_authors(value: Any) -> list[str]:
    if not isinstance(value, str):
        return []
    parts = re.split(r"\s*;\s*|\s+and\s+|\s*&\s*|\n", value)
    return [p.strip() for p in parts if p.strip()]


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _iso_text(value: str | None) -> str | None:
    """A date written by a person or a tool, as ISO 8601 when it is one (dates keep their precision), else None."""
    if not value:
        return None
    value = value.strip().strip("\"'")
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            return datetime.strptime(value, "%Y-%m-%d").date().isoformat()
        return datetime.fromisoformat(value).isoformat()
    except ValueError:
        return None


_PDF_DATE = re.compile(
    r"^(?:D:)?(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?\s*(?:(Z)|([+-])(\d{2})'?(\d{2})?'?)?",
)


def _pdf_date(value: Any) -> str | None:
    """A PDF date string ("D:20240103093826+01'00'") in ISO 8601, or None when it is not one."""
    if not isinstance(value, str):
        return None
    match = _PDF_DATE.match(value.strip())
    if not match:
        return None
    year, month, day, hour, minute, second, zulu, sign, tz_h, tz_m = match.groups()
    tz: timezone | None = None
    if zulu:
        tz = UTC
    elif sign:
        offset = timedelta(hours=int(tz_h), minutes=int(tz_m or 0))
        tz = timezone(-offset if sign == "-" else offset)
    try:
        moment = datetime(
            int(year), int(month or 1), int(day or 1), int(hour or 0), int(minute or 0), int(second or 0), tzinfo=tz
        )
    except ValueError:
        return None
    return moment.isoformat()


# --------------------------------------------------------------------------- text decoding

_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
# Encodings charset-normalizer proposes for Latin-script text. For short texts it often picks an
# exotic member of this family (cp850 for French, cp1250 for German); Windows-1252 is by far the
# most common of them, so it wins unless the bytes are not valid Windows-1252.
_LATIN_FAMILY = frozenset(
    {
        "ascii",
        "latin_1",
        "iso8859_2",
        "iso8859_3",
        "iso8859_4",
        "iso8859_9",
        "iso8859_10",
        "iso8859_13",
        "iso8859_14",
        "iso8859_15",
        "iso8859_16",
        "cp1250",
        "cp1252",
        "cp1254",
        "cp1257",
        "cp1258",
        "cp437",
        "cp775",
        "cp850",
        "cp852",
        "cp858",
        "cp860",
        "cp861",
        "cp863",
        "cp865",
        "mac_roman",
        "mac_latin2",
        "mac_iceland",
        "mac_turkish",
        "hp_roman8",
    }
)
_BINARY_CONTROLS = re.compile(rb"[\x00-\x08\x0b\x0e-\x1a\x1c-\x1f\x7f]")
_WEB_LATIN1 = frozenset({"latin_1", "iso8859_1", "ascii", "us_ascii", "cp1252", "windows_1252"})


def _latin1_fallback(exc: UnicodeError) -> tuple[str, int]:
    """Codec error handler: bytes Windows-1252 leaves undefined (0x81, 0x8D...) decode as Latin-1."""
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    return exc.object[exc.start : exc.end].decode("latin-1"), exc.end


codecs.register_error("vecflow-latin1", _latin1_fallback)


def _decode_windows_1252(data: bytes) -> str:
    return data.decode("cp1252", errors="vecflow-latin1")


def _codec_name(label: str | None) -> str | None:
    if not label:
        return None
    try:
        return codecs.lookup(label.strip().strip("\"'")).name.replace("-", "_")
    except LookupError:
        return None


def _undecodable(what: str) -> ParseError:
    return ParseError(
        UNDECODABLE_TEXT,
        f"The {what} is not text in any common encoding (it looks like binary data). "
        "Check that the right file was uploaded, or save it as UTF-8 text.",
    )


def _decode_bom(data: bytes) -> str | None:
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return data[len(bom) :].decode(encoding, errors="replace")
    return None


def _utf16_without_bom(sample: bytes) -> str | None:
    sample = sample[: len(sample) - len(sample) % 2]
    if len(sample) < 16:
        return None
    half = len(sample) / 2
    even_zeros, odd_zeros = sample[0::2].count(0) / half, sample[1::2].count(0) / half
    if odd_zeros > 0.3 and even_zeros < 0.05:
        return "utf-16-le"
    if even_zeros > 0.3 and odd_zeros < 0.05:
        return "utf-16-be"
    return None


def _guess_encoding(sample: bytes, what: str) -> str:
    """The encoding of text that is not UTF-8, judged on `sample`; raises UNDECODABLE_TEXT for binary data."""
    if b"\x00" in sample:
        encoding = _utf16_without_bom(sample)
        if encoding is None:
            raise _undecodable(what)
        return encoding
    if len(_BINARY_CONTROLS.findall(sample)) > max(2, len(sample) // 200):
        raise _undecodable(what)
    import charset_normalizer

    best = charset_normalizer.from_bytes(sample).best()
    if best is None:
        raise _undecodable(what)
    encoding = _codec_name(best.encoding) or "cp1252"
    if encoding in _LATIN_FAMILY:
        return "cp1252"
    return encoding


def _decode(data: bytes, encoding: str) -> str:
    if encoding == "cp1252":
        return _decode_windows_1252(data)
    return data.decode(encoding, errors="replace")


def _decode_text(data: bytes, declared: str | None, what: str) -> str:
    """Bytes to text: BOM, then a declared charset, then UTF-8, then detection."""
    text = _decode_bom(data)
    if text is not None:
        return text
    declared_codec = _codec_name(declared)
    if declared_codec:
        if declared_codec in _WEB_LATIN1:
            return _decode_windows_1252(data)
        try:
            return data.decode(declared_codec)
        except UnicodeDecodeError:
            pass  # the declaration is wrong; detect instead
    if b"\x00" not in data[:_SAMPLE]:
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            pass
    return _decode(data, _guess_encoding(_sample(data), what))


def _sample(data: bytes) -> bytes:
    sample = data[:_SAMPLE]
    if len(data) > _SAMPLE:
        cut = sample.rfind(b"\n")
        if cut > _SAMPLE // 2:
            sample = sample[: cut + 1]
    return sample


# --------------------------------------------------------------------------- PDF


@dataclass
class _PdfText:
    pages: list[str]
    parser: str
    title: str | None = None
    authors: list[str] = field(default_factory=list)
    created: str | None = None
    modified: str | None = None
    language: str | None = None
    complete: bool = True  # False when some pages failed to extract
    error: str = ""  # why the first page that failed did

    def failed(self, exc: BaseException) -> None:
        self.pages.append("")
        if self.complete:
            self.complete = False
            if isinstance(exc, RecursionError):
                self.error = "its objects are nested too deeply to read"
            else:
                self.error = f"{type(exc).__name__}: {exc}"[:200]

    @property
    def chars(self) -> int:
        return sum(len("".join(page.split())) for page in self.pages)


def _encrypted_pdf() -> ParseError:
    return ParseError(
        ENCRYPTED_DOCUMENT,
        "The PDF is password-protected. Remove the password (for example, print it to a new PDF) and upload it again.",
    )


def _corrupt_pdf(detail: object) -> ParseError:
    reason = f" ({detail})" if str(detail) else ""
    return ParseError(
        CORRUPT_FILE,
        f"The PDF is damaged or truncated and no text could be read from it{reason}. "
        "Upload the complete original file, or re-save it with a PDF viewer.",
    )


def _pdf_with_pypdf(path: Path) -> _PdfText:
    import pypdf
    from pypdf.errors import DependencyError
    from pypdf.generic import ArrayObject, StreamObject

    reader = pypdf.PdfReader(path)
    if reader.is_encrypted:
        try:
            opened = reader.decrypt("")
        except (DependencyError, NotImplementedError) as exc:
            raise _encrypted_pdf() from exc
        if not opened:
            raise _encrypted_pdf()
    result = _PdfText(pages=[], parser=_library("pypdf"))
    for page in reader.pages:
        try:
            contents = page.get("/Contents")
            contents = contents.get_object() if contents is not None else None
            if contents is not None and not isinstance(contents, (StreamObject, ArrayObject)):
                raise ValueError(f"a page's /Contents is a {type(contents).__name__}, not a content stream")
            result.pages.append(_clean(page.extract_text()))
        except Exception as exc:
            result.failed(exc)
    try:
        info = reader.metadata or {}
        result.title = _text_or_none(info.get("/Title"))
        result.authors = _split_authors(_text_or_none(info.get("/Author")))
        result.created = _pdf_date(_text_or_none(info.get("/CreationDate")))
        result.modified = _pdf_date(_text_or_none(info.get("/ModDate")))
        result.language = _language_code(_text_or_none(reader.trailer["/Root"].get("/Lang")))
    except Exception:  # metadata is a bonus; a malformed info dictionary must not lose the text
        pass
    return result


def _text_or_none(value: Any) -> str | None:
    if value is None:
        return None
    if hasattr(value, "get_object"):
        value = value.get_object()
    if isinstance(value, bytes):
        from pdfminer.utils import decode_text

        value = decode_text(value)
    if not isinstance(value, str):
        return None
    value = _clean(value)
    return value or None


def _pdf_with_pdfminer(path: Path) -> _PdfText:
    from pdfminer.converter import PDFPageAggregator
    from pdfminer.layout import LAParams, LTTextContainer
    from pdfminer.pdfdocument import PDFDocument, PDFEncryptionError, PDFPasswordIncorrect
    from pdfminer.pdfinterp import PDFPageInterpreter, PDFResourceManager
    from pdfminer.pdfpage import PDFPage
    from pdfminer.pdfparser import PDFParser
    from pdfminer.pdftypes import resolve1

    result = _PdfText(pages=[], parser=_library("pdfminer.six"))
    with path.open("rb") as fp:
        try:
            document = PDFDocument(PDFParser(fp))
        except (PDFPasswordIncorrect, PDFEncryptionError) as exc:
            raise _encrypted_pdf() from exc
        manager = PDFResourceManager()
        device = PDFPageAggregator(manager, laparams=LAParams())
        interpreter = PDFPageInterpreter(manager, device)
        for page in PDFPage.create_pages(document):
            try:
                interpreter.process_page(page)
                layout = device.get_result()
                text = "".join(item.get_text() for item in layout if isinstance(item, LTTextContainer))
                result.pages.append(_clean(text))
            except Exception as exc:
                result.failed(exc)
        try:
            info: dict[str, Any] = {}
            for entry in document.info:
                info.update(entry)
            result.title = _text_or_none(resolve1(info.get("Title")))
            result.authors = _split_authors(_text_or_none(resolve1(info.get("Author"))))
            result.created = _pdf_date(_text_or_none(resolve1(info.get("CreationDate"))))
            result.modified = _pdf_date(_text_or_none(resolve1(info.get("ModDate"))))
            result.language = _language_code(_text_or_none(resolve1(document.catalog.get("Lang"))))
        except Exception:
            pass
    return result


def _parse_pdf(path: Path, charset: str | None, limits: ParseLimits) -> ParsedDocument:
    with path.open("rb") as fp:
        start = fp.read(1024)
    if b"%PDF-" not in start:
        if not start.strip():
            raise ParseError(EMPTY_FILE, "The file contains only whitespace. Upload a file that has content.")
        raise ParseError(
            CORRUPT_FILE,
            "The file is not a PDF (it has no %PDF- header). Check that the right file was uploaded "
            "or that its type is declared correctly.",
        )

    primary: _PdfText | None = None
    primary_error: Exception | None = None
    try:
        primary = _pdf_with_pypdf(path)
    except ParseError:
        raise
    except Exception as exc:  # pypdf raises many kinds of errors on malformed files
        primary_error = exc

    result = primary
    # pypdf failed, lost pages, or found little text (< 40 visible characters a page): ask pdfminer.six too.
    if primary is None or not primary.complete or primary.chars < 40 * max(1, len(primary.pages)):
        try:
            fallback: _PdfText | None = _pdf_with_pdfminer(path)
        except ParseError:
            if primary is None:
                raise
            fallback = None
        except Exception as exc:
            if primary is None:
                raise _corrupt_pdf(primary_error or exc) from exc
            fallback = None
        if fallback is not None and (primary is None or fallback.chars > primary.chars * 1.5 + 20):
            result = fallback
    if result is None or not result.pages:
        raise _corrupt_pdf("it has no pages")
    if result.chars == 0 and not result.complete:  # the pages failed to read: damaged, not scanned
        raise _corrupt_pdf(f"pages could not be read: {result.error}")
    if result.chars == 0:
        count = len(result.pages)
        raise ParseError(
            NO_TEXT_LAYER,
            f"The PDF has {count} page{'s' if count != 1 else ''} but no text layer (it looks scanned or "
            "image-only), and OCR is not supported. Run it through an OCR tool such as OCRmyPDF and upload the result.",
        )

    parts: list[str] = []
    spans: list[PageSpan] = []
    offset = 0
    for number, page_text in enumerate(result.pages, start=1):
        if number > 1:
            parts.append("\n\n")
            offset += 2
        parts.append(page_text)
        spans.append(PageSpan(number, offset, offset + len(page_text)))
        offset += len(page_text)
    return ParsedDocument(
        text="".join(parts),
        content_type=PDF,
        parser=result.parser,
        pages=spans,
        metadata=DocumentMetadata(
            title=result.title,
            authors=result.authors,
            created=result.created,
            modified=result.modified,
            language=result.language,
        ),
    )


# --------------------------------------------------------------------------- DOCX

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_MC = "{http://schemas.openxmlformats.org/markup-compatibility/2006}"
_W_P, _W_TBL, _W_TR, _W_TC = _W + "p", _W + "tbl", _W + "tr", _W + "tc"
_W_T, _W_TAB, _W_BR, _W_CR = _W + "t", _W + "tab", _W + "br", _W + "cr"
_W_SDT, _W_SDT_CONTENT, _W_CUSTOM_XML = _W + "sdt", _W + "sdtContent", _W + "customXml"
_W_TXBX, _W_GRID_SPAN, _W_VAL = _W + "txbxContent", _W + "gridSpan", _W + "val"
_MC_ALTERNATE, _MC_CHOICE, _MC_FALLBACK = _MC + "AlternateContent", _MC + "Choice", _MC + "Fallback"
# Never text: properties, deleted text, field instructions, and text boxes (walked as blocks of their own).
_W_SKIP = frozenset(
    {_W + "pPr", _W + "rPr", _W + "tblPr", _W + "trPr", _W + "tcPr", _W + "delText", _W + "instrText", _W_TXBX}
)
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def _corrupt_docx(detail: str) -> ParseError:
    return ParseError(
        CORRUPT_FILE,
        f"The DOCX file is damaged or truncated ({detail}). Open it in Word or LibreOffice, save it again, "
        "and upload the new copy.",
    )


def _ole_contains(path: Path, *names: str) -> bool:
    needles = [name.encode("utf-16-le") for name in names]
    overlap = max(len(n) for n in needles)
    tail = b""
    with path.open("rb") as fp:
        while chunk := fp.read(1 << 20):
            window = tail + chunk
            if any(needle in window for needle in needles):
                return True
            tail = window[-overlap:]
    return False


class _DocxWalker:
    """Collects text blocks and tables from WordprocessingML elements, in document order."""

    def __init__(self, tables: list[Table]) -> None:
        self.blocks: list[str] = []
        self.tables = tables

    def container(self, element: Any) -> None:
        for child in element:
            tag = child.tag
            if tag == _W_P:
                self.paragraph(child)
            elif tag == _W_TBL:
                self.table(child)
            elif tag == _W_SDT:
                content = child.find(_W_SDT_CONTENT)
                if content is not None:
                    self.container(content)
            elif tag == _W_CUSTOM_XML:
                self.container(child)
            elif tag == _MC_ALTERNATE:
                chosen = child.find(_MC_CHOICE)
                if chosen is None:
                    chosen = child.find(_MC_FALLBACK)
                if chosen is not None:
                    self.container(chosen)

    def paragraph(self, p: Any) -> None:
        pieces: list[str] = []
        boxes: list[Any] = []
        _inline_text(p, pieces, boxes)
        text = "".join(pieces).strip()
        if text:
            self.blocks.append(text)
        for box in boxes:
            self.container(box)

    def table(self, tbl: Any) -> None:
        rows: list[list[str]] = []
        lines: list[str] = []
        for tr in _children(tbl, _W_TR):
            cells: list[str] = []
            shown: list[str] = []
            for tc in _children(tr, _W_TC):
                inner = _DocxWalker([])
                inner.container(tc)
                text = " ".join(" ".join(inner.blocks).split())
                cells.append(text)
                shown.append(text)
                span = tc.find(f"{_W}tcPr/{_W_GRID_SPAN}")
                if span is not None and (span.get(_W_VAL) or "").isdigit():
                    cells.extend([""] * (int(span.get(_W_VAL)) - 1))
            if any(cells):
                rows.append(cells)
                lines.append(" | ".join(shown))
        if not rows:
            return
        self.tables.append(Table(header=rows[0], rows=rows[1:], source=f"docx table {len(self.tables) + 1}"))
        self.blocks.append("\n".join(lines))


def _children(element: Any, tag: str) -> Iterator[Any]:
    """Direct children with `tag`, looking through content controls (w:sdt) that wrap rows or cells."""
    for child in element:
        if child.tag == tag:
            yield child
        elif child.tag == _W_SDT:
            content = child.find(_W_SDT_CONTENT)
            if content is not None:
                yield from _children(content, tag)


def _inline_text(element: Any, pieces: list[str], boxes: list[Any]) -> None:
    for child in element:
        tag = child.tag
        if tag == _W_T:
            pieces.append(child.text or "")
        elif tag == _W_TAB:
            pieces.append("\t")
        elif tag in (_W_BR, _W_CR):
            pieces.append("\n")
        elif tag == _W + "noBreakHyphen":
            pieces.append("-")
        elif tag == _W_TXBX:
            boxes.append(child)
        elif tag in _W_SKIP or tag == _MC_FALLBACK or not isinstance(tag, str):
            continue
        else:
            _inline_text(child, pieces, boxes)


def _xml_root(part: Any) -> Any:
    element = getattr(part, "element", None)
    if element is not None:
        return element
    from lxml import etree

    parser = etree.XMLParser(resolve_entities=False, no_network=True, remove_comments=True)
    return etree.fromstring(part.blob, parser)


def _docx_title_paragraph(document: Any) -> str | None:
    """The first paragraph styled Title (or else Heading 1) near the top, for documents without a title property."""
    found: dict[str, str] = {}
    for paragraph in document.paragraphs[:100]:
        try:
            style = (paragraph.style.name or "").lower() if paragraph.style is not None else ""
        except (KeyError, ValueError):
            continue
        text = paragraph.text.strip()
        if text and style in ("title", "heading 1") and style not in found:
            found[style] = _shorten(text)
    return found.get("title") or found.get("heading 1")


def _measure_zip(archive: zipfile.ZipFile, limit: int) -> None:
    """Unpack every member in small reads, counting the bytes that really come out (headers can lie) and
    checking each CRC, before a library reads the package whole."""
    total = 0
    for info in archive.infolist():
        if info.file_size > limit:  # declared over the limit: no need to read it
            raise _too_large("DOCX package", limit, "bytes unpacked", "VECFLOW_PARSE_MAX_EXPANDED_BYTES")
        with archive.open(info) as member:
            while chunk := member.read(_ZIP_READ):
                total += len(chunk)
                if total > limit:
                    raise _too_large("DOCX package", limit, "bytes unpacked", "VECFLOW_PARSE_MAX_EXPANDED_BYTES")


def _parse_docx(path: Path, charset: str | None, limits: ParseLimits) -> ParsedDocument:
    with path.open("rb") as fp:
        magic = fp.read(8)
    if magic == _OLE_MAGIC:
        if _ole_contains(path, "EncryptedPackage", "EncryptionInfo"):
            raise ParseError(
                ENCRYPTED_DOCUMENT,
                "The DOCX file is password-protected. Open it in Word, remove the password "
                "(File > Info > Protect Document), save it, and upload it again.",
            )
        raise ParseError(
            UNSUPPORTED_TYPE,
            "The file is a legacy Word 97-2003 (.doc) or other OLE document, not DOCX. "
            "Save it as .docx (Word Document) and upload it again.",
        )
    if not zipfile.is_zipfile(path):
        raise _corrupt_docx("it is not a readable ZIP package")
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            if "word/document.xml" not in names and "[Content_Types].xml" not in names:
                raise _corrupt_docx("the ZIP package has no Word document in it")
            _measure_zip(archive, limits.max_expanded_bytes)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, zlib.error, NotImplementedError) as exc:
        raise _corrupt_docx(f"the ZIP package cannot be read: {exc}") from exc

    import docx
    from docx.opc.constants import RELATIONSHIP_TYPE as RT
    from docx.opc.exceptions import PackageNotFoundError
    from lxml import etree

    try:
        document = docx.Document(str(path))
    except ValueError as exc:
        if "not a Word file" in str(exc):
            raise ParseError(
                UNSUPPORTED_TYPE,
                "The file is an Office package but not a Word document (perhaps a spreadsheet or "
                "presentation). Upload it as a Word .docx document, or convert it to PDF.",
            ) from exc
        raise _corrupt_docx(str(exc)) from exc
    except (PackageNotFoundError, KeyError, zipfile.BadZipFile, zlib.error, EOFError, etree.XMLSyntaxError) as exc:
        raise _corrupt_docx(str(exc) or type(exc).__name__) from exc

    tables: list[Table] = []
    body = _DocxWalker(tables)
    body.container(document.element.body)
    extra: list[str] = []
    try:
        related = sorted(
            (rel for rel in document.part.rels.values() if not rel.is_external),
            key=lambda rel: (len(rel.rId), rel.rId),
        )
        notes = [r for r in related if r.reltype in (RT.FOOTNOTES, RT.ENDNOTES)]
        margins = [r for r in related if r.reltype in (RT.HEADER, RT.FOOTER)]
        for rel in notes + margins:
            root = _xml_root(rel.target_part)
            walker = _DocxWalker(tables)
            if rel.reltype in (RT.FOOTNOTES, RT.ENDNOTES):
                for note in root:
                    if note.get(_W + "type") in (None, "normal"):
                        walker.container(note)
            else:
                walker.container(root)
            for block in walker.blocks:
                if block not in extra:
                    extra.append(block)
    except (etree.XMLSyntaxError, KeyError, ValueError) as exc:
        raise _corrupt_docx(f"a notes, header or footer part is damaged: {exc}") from exc

    text = _require_text(_clean("\n\n".join(body.blocks + extra)), "DOCX document")
    meta = DocumentMetadata()
    if any(rel.reltype == RT.CORE_PROPERTIES for rel in document.part.package.rels.values()):
        props = document.core_properties
        meta.title = _clean(props.title or "") or None
        meta.authors = _split_authors(props.author)
        meta.created = _iso(props.created)
        meta.modified = _iso(props.modified)
        meta.language = _language_code(props.language)
    if meta.title is None:
        meta.title = _docx_title_paragraph(document)
    return ParsedDocument(
        text=text,
        content_type=DOCX,
        parser=_library("python-docx"),
        pages=_whole(text),
        metadata=meta,
        tables=tables,
    )


# --------------------------------------------------------------------------- HTML

_META_CHARSET = re.compile(rb"<meta[^>]+charset\s*=\s*[\"']?\s*([\w.:-]+)", re.IGNORECASE)
_XML_ENCODING = re.compile(rb"^\s*<\?xml[^>]+encoding\s*=\s*[\"']([\w.:-]+)", re.IGNORECASE)
_DROP_TAGS = [
    "script",
    "style",
    "nav",
    "header",
    "footer",
    "aside",
    "noscript",
    "template",
    "iframe",
    "svg",
    "canvas",
    "select",
    "button",
    "head",
]
_DROP_ROLES = frozenset({"navigation", "banner", "contentinfo", "complementary", "search"})
# Line breaks an element puts around itself: 2 = paragraph (blank line), 1 = line.
_HTML_BREAKS = {
    **dict.fromkeys(
        "p h1 h2 h3 h4 h5 h6 pre blockquote ul ol dl table section article main figure address hr "
        "form fieldset details".split(),
        2,
    ),
    **dict.fromkeys("div li dt dd tr td th br caption figcaption summary legend center".split(), 1),
}
_SPACES = re.compile(r"\s+")
_XML_PROLOG = re.compile(r"\A\s*<\?xml[^>]*\?>")
_PERMALINK_MARKS = frozenset({"#", "¶", "§", "🔗"})
# A table whose cells hold these is laid out as a page, not data: its cells are walked as blocks.
_LAYOUT_IN_CELLS = ["table", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "dl", "pre", "blockquote", "hr"]


class _Raw(str):
    """Preformatted text: whitespace kept as it is."""


def _html_encoding(data: bytes, declared: str | None) -> str | None:
    """The charset the page declares: HTTP-level first, then <meta>, then the XML declaration."""
    if _codec_name(declared):
        return declared
    head = data[:4096]
    for pattern in (_META_CHARSET, _XML_ENCODING):
        match = pattern.search(head)
        if match:
            label = match.group(1).decode("ascii", errors="ignore")
            codec = _codec_name(label)
            if codec and codec.startswith("utf_16"):
                return "utf-8"  # a BOM-less page cannot really be UTF-16 if ASCII markup matched (WHATWG rule)
            if codec:
                return label
    return None


def _drop_boilerplate(root: Any) -> None:
    from bs4 import Comment, Tag

    for tag in root.find_all(_DROP_TAGS):
        tag.decompose()
    hidden = [
        tag
        for tag in root.find_all(True)
        if isinstance(tag, Tag)
        and tag.attrs is not None
        and (
            tag.has_attr("hidden")
            or str(tag.get("aria-hidden", "")).lower() == "true"
            or str(tag.get("role", "")).lower() in _DROP_ROLES
            or "display:none" in str(tag.get("style", "")).replace(" ", "").lower()
        )
    ]
    for tag in hidden:
        if not tag.decomposed:
            tag.decompose()
    for comment in root.find_all(string=lambda s: isinstance(s, Comment)):
        comment.extract()
    # Permalink anchors next to headings ("Events#", "Abstract¶").
    for anchor in root.find_all("a", href=True):
        if str(anchor["href"]).startswith("#") and anchor.get_text(strip=True) in _PERMALINK_MARKS:
            anchor.decompose()


def _is_data_table(table: Any) -> bool:
    if table.find(_LAYOUT_IN_CELLS) is not None:
        return False
    return any(len(tr.find_all(["td", "th"], recursive=False)) >= 2 for tr in table.find_all("tr"))


def _main_region(soup: Any) -> Any:
    body = soup.body or soup
    candidates = soup.find_all("main") or soup.find_all(attrs={"role": "main"}) or soup.find_all("article")
    if len(candidates) == 1:
        main = candidates[0]
        main_len = len(main.get_text(" ", strip=True))
        if main_len >= 200 or main_len >= 0.5 * len(body.get_text(" ", strip=True)):
            return main
    return body


def _cell_text(cell: Any) -> str:
    return " ".join(cell.get_text(" ").split())


def _html_table(table: Any, tables: list[Table]) -> str:
    rows: list[list[str]] = []
    lines: list[str] = []
    caption = table.find("caption")
    if caption is not None:
        lines.append(_cell_text(caption))
    for tr in table.find_all("tr"):
        cells: list[str] = []
        shown: list[str] = []
        for cell in tr.find_all(["td", "th"], recursive=False):
            text = _cell_text(cell)
            cells.append(text)
            shown.append(text)
            span = str(cell.get("colspan", "1")).strip()
            if span.isdigit() and 1 < int(span) <= 100:
                cells.extend([""] * (int(span) - 1))
        if any(cells):
            rows.append(cells)
            lines.append(" | ".join(shown))
    if rows:
        tables.append(Table(header=rows[0], rows=rows[1:], source=f"html table {len(tables) + 1}"))
    return "\n".join(lines)


def _html_text(root: Any, tables: list[Table]) -> str:
    """Visible text of `root` with line and paragraph breaks from block elements (iterative, any depth)."""
    from bs4 import CData, NavigableString, Tag

    tokens: list[str | int] = []
    stack: list[tuple[Any, bool]] = [(root, False)]
    pre_depth = 0
    while stack:
        node, closing = stack.pop()
        if closing:
            if node.name == "pre":
                pre_depth -= 1
            tokens.append(1 if node.name == "code" and pre_depth else _HTML_BREAKS.get(node.name, 0))
            continue
        if isinstance(node, NavigableString):
            if type(node) in (NavigableString, CData):
                tokens.append(_Raw(str(node)) if pre_depth else _SPACES.sub(" ", str(node)))
            continue
        if not isinstance(node, Tag):
            continue
        name = node.name
        if name == "table" and _is_data_table(node):
            tokens.extend([2, _Raw(_html_table(node, tables)), 2])
            continue
        if name == "pre":
            pre_depth += 1
        tokens.append(1 if name == "code" and pre_depth else _HTML_BREAKS.get(name, 0))
        stack.append((node, True))
        stack.extend((child, False) for child in reversed(node.contents))

    out: list[str] = []
    pending = 0
    for token in tokens:
        if isinstance(token, int):
            pending = max(pending, token)
            continue
        raw = isinstance(token, _Raw)
        if out and pending:
            out[-1] = out[-1].rstrip(" \t")
            out.append("\n" * pending)
            token = token if raw else token.lstrip(" ")
        elif not out or out[-1].endswith((" ", "\n")):
            token = token if raw else token.lstrip(" ")
        if token:
            out.append(token)
            pending = 0
    return "".join(out)


def _meta_content(soup: Any, *names: str) -> list[str]:
    wanted = {n.lower() for n in names}
    values = []
    for tag in soup.find_all("meta"):
        key = str(tag.get("name") or tag.get("property") or tag.get("itemprop") or "").lower()
        content = tag.get("content")
        if key in wanted and isinstance(content, str) and content.strip():
            values.append(content.strip())
    return values


def _html_metadata(soup: Any) -> DocumentMetadata:
    meta = DocumentMetadata()
    if soup.title is not None:
        meta.title = _shorten(soup.title.get_text(" ")) or None
    if meta.title is None:
        h1 = soup.find("h1")
        if h1 is not None:
            meta.title = _shorten(h1.get_text(" ")) or None
    for value in _meta_content(soup, "author", "dc.creator", "dcterms.creator", "citation_author", "article:author"):
        for author in _split_authors(value):
            if author not in meta.authors:
                meta.authors.append(author)
    created = _meta_content(soup, "dcterms.created", "dc.date", "date", "article:published_time", "datepublished")
    modified = _meta_content(soup, "dcterms.modified", "last-modified", "article:modified_time", "datemodified")
    meta.created = _iso_text(created[0]) if created else None
    meta.modified = _iso_text(modified[0]) if modified else None
    html = soup.find("html")
    if html is not None:
        meta.language = _language_code(html.get("lang")) or _language_code(html.get("xml:lang"))
    if meta.language is None:
        for tag in soup.find_all("meta"):
            if str(tag.get("http-equiv", "")).lower() == "content-language":
                meta.language = _language_code(str(tag.get("content", "")).split(",")[0])
                break
    return meta


def _parse_html(path: Path, charset: str | None, limits: ParseLimits) -> ParsedDocument:
    from bs4 import BeautifulSoup

    data = path.read_bytes()
    text = _decode_text(data, _html_encoding(data, charset), "HTML file")
    del data
    # An XHTML page's XML declaration is noise to the HTML parser (and makes bs4 warn); the text is decoded already.
    soup = BeautifulSoup(_XML_PROLOG.sub("", text, count=1), "lxml")
    del text
    meta = _html_metadata(soup)
    _drop_boilerplate(soup)
    tables: list[Table] = []
    body = _require_text(_clean(_BLANK_LINES.sub("\n\n", _html_text(_main_region(soup), tables))), "HTML page")
    return ParsedDocument(
        text=body,
        content_type=HTML,
        parser=_library("beautifulsoup4"),
        pages=_whole(body),
        metadata=meta,
        tables=tables,
    )


# --------------------------------------------------------------------------- Markdown and plain text

_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?)\n(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.DOTALL)
_ATX_HEADING = re.compile(r"^ {0,3}#{1,6}[ \t]+(.+?)[ \t#]*$", re.MULTILINE)
_SETEXT_HEADING = re.compile(r"^ {0,3}(\S.*?)[ \t]*\n {0,3}(?:=+|-+)[ \t]*$", re.MULTILINE)


def _front_matter_value(block: str, key: str) -> str | None:
    match = re.search(rf"^{key}\s*:\s*(.+)$", block, re.MULTILINE | re.IGNORECASE)
    if not match:
        return None
    value = match.group(1).strip().strip("\"'").strip()
    return value or None


def _text_metadata(text: str, *, markdown: bool) -> DocumentMetadata:
    """YAML front matter (title, author, date, lang) for both; Markdown also takes its first heading as title."""
    meta = DocumentMetadata()
    front = _FRONT_MATTER.match(text)
    if front:
        block = front.group(1)
        title = _front_matter_value(block, "title")
        meta.title = _shorten(title) if title else None
        author = _front_matter_value(block, "author")
        if author and not author.startswith(("[", "-")):
            meta.authors = _split_authors(author)
        meta.created = _iso_text(_front_matter_value(block, "date"))
        meta.language = _language_code(_front_matter_value(block, "lang") or _front_matter_value(block, "language"))
        text = text[front.end() :]
    if meta.title is None and markdown:
        heading = _ATX_HEADING.search(text[:20_000]) or _SETEXT_HEADING.search(text[:20_000])
        if heading:
            meta.title = _shorten(heading.group(1))
    return meta


def _parse_text(path: Path, charset: str | None, limits: ParseLimits, *, markdown: bool) -> ParsedDocument:
    what = "Markdown file" if markdown else "text file"
    text = _require_text(_clean(_decode_text(path.read_bytes(), charset, what)), what)
    return ParsedDocument(
        text=text,
        content_type=MARKDOWN if markdown else PLAIN,
        parser=_library("charset-normalizer"),
        pages=_whole(text),
        metadata=_text_metadata(text, markdown=markdown),
    )


# --------------------------------------------------------------------------- CSV


def _csv_encoding(path: Path, charset: str | None) -> str:
    """The encoding of a CSV file, judged on its first bytes (BOM-aware codecs skip the BOM themselves)."""
    with path.open("rb") as fp:
        head = fp.read(_SAMPLE)
    for bom, encoding in _BOMS:
        if head.startswith(bom):
            return {"utf-8": "utf-8-sig", "utf-16-le": "utf-16", "utf-16-be": "utf-16"}.get(encoding, "utf-32")
    declared = _codec_name(charset)
    if declared:
        return "cp1252" if declared in _WEB_LATIN1 else declared
    if b"\x00" not in head:
        try:
            head.decode("utf-8")
            return "utf-8"
        except UnicodeDecodeError as exc:
            if exc.start >= len(head) - 3 and len(head) == _SAMPLE:
                return "utf-8"  # a character cut at the end of the sample
    return _guess_encoding(_sample(head), "CSV file")


def _csv_rows(path: Path, charset: str | None, delimiter: str | None) -> Iterator[list[str]]:
    encoding = _csv_encoding(path, charset)
    errors = "vecflow-latin1" if encoding == "cp1252" else "strict"
    with path.open(encoding=encoding, errors=errors, newline="") as stream:
        sample = stream.read(_SAMPLE)
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


def _parse_csv(path: Path, charset: str | None, limits: ParseLimits, *, delimiter: str | None = None) -> ParsedDocument:
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
    text = _require_text(_clean("\n".join(lines)), "CSV file")
    media_type = TSV if delimiter == "\t" else CSV
    source = "tsv" if media_type == TSV else "csv"
    return ParsedDocument(
        text=text,
        content_type=media_type,
        parser=f"csv ({_PYTHON})",
        pages=_whole(text),
        metadata=DocumentMetadata(),
        tables=[Table(header=header or [], rows=rows, source=source)],
    )


# --------------------------------------------------------------------------- JSON


def _json_scalar(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _json_lines(value: Any) -> list[str]:
    """One ``path: value`` line per leaf, depth first, without recursion."""
    lines: list[str] = []
    stack: list[tuple[str, Any]] = [("", value)]
    while stack:
        path, item = stack.pop()
        if isinstance(item, dict):
            if not item:
                if path:
                    lines.append(f"{path}: {{}}")
                continue
            for key in reversed(list(item)):
                stack.append((f"{path}.{key}" if path else str(key), item[key]))
        elif isinstance(item, list):
            if not item:
                if path:
                    lines.append(f"{path}: []")
                continue
            for index in range(len(item) - 1, -1, -1):
                stack.append((f"{path}[{index}]", item[index]))
        else:
            scalar = _json_scalar(item)
            lines.append(f"{path}: {scalar}" if path else scalar)
    return lines


def _parse_json(path: Path, charset: str | None, limits: ParseLimits) -> ParsedDocument:
    source = _decode_text(path.read_bytes(), charset, "JSON file")
    if not source.strip():
        raise ParseError(EMPTY_FILE, "The JSON file contains only whitespace. Upload a file that has content.")
    try:
        value = json.loads(source)
    except json.JSONDecodeError as exc:
        raise ParseError(
            CORRUPT_FILE,
            f"The file is not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno}). "
            "Fix the syntax and upload it again.",
        ) from exc
    except RecursionError as exc:
        raise ParseError(
            CORRUPT_FILE, "The JSON file is nested too deeply to parse. Flatten it and upload it again."
        ) from exc
    del source
    text = _require_text(_clean("\n".join(_json_lines(value))), "JSON file")
    meta = DocumentMetadata()
    if isinstance(value, dict) and isinstance(value.get("title"), str):
        meta.title = _shorten(value["title"]) or None
    return ParsedDocument(
        text=text,
        content_type=JSON,
        parser=f"json ({_PYTHON})",
        pages=_whole(text),
        metadata=meta,
    )


_PARSERS: dict[str, Callable[[Path, str | None, ParseLimits], ParsedDocument]] = {
    PDF: _parse_pdf,
    DOCX: _parse_docx,
    HTML: _parse_html,
    MARKDOWN: lambda path, charset, limits: _parse_text(path, charset, limits, markdown=True),
    PLAIN: lambda path, charset, limits: _parse_text(path, charset, limits, markdown=False),
    CSV: _parse_csv,
    TSV: lambda path, charset, limits: _parse_csv(path, charset, limits, delimiter="\t"),
    JSON: _parse_json,
}
assert set(_PARSERS) == SUPPORTED
