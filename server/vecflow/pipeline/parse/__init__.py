"""Document parsing: a file on disk and its media type in, text with structure out.

`parse_document` is synchronous and CPU-bound; the server runs it in a worker
process (`vecflow.pipeline.parse_worker`) under a memory budget. It returns a `ParsedDocument`: the text (what gets chunked and
embedded), page spans into that text, metadata and any tables found. Formats:

- PDF: pypdf, falling back to pdfminer.six when pypdf cannot read the file or
  extracts much less text. Page texts are joined with a blank line; reading
  order of multi-column layouts is whatever the library gives. Pages without a
  text layer are rendered with pypdfium2 and read by OCR (`pdf_ocr`, `ocr`).
  Ruled tables found by pdfplumber (`pdf_tables`, at most ``max_table_pages`` pages).
- DOCX: python-docx for the package and core properties; text from the body
  (paragraphs, tables rendered as ``cell | cell`` rows, content controls, text
  boxes), then footnotes, endnotes, headers and footers.
- PPTX (`slides`): python-pptx; one page per slide, its title a heading, shapes in reading order
  (top to bottom, left to right), tables, speaker notes.
- XLSX (`sheets`): openpyxl, read-only, rows streamed; one page per sheet, its name a heading, rows as
  ``column: value`` lines and a `Table`; formulas as their cached values; at most ``max_cells`` cells.
- ODT (`opendocument`): odfdo; headings, paragraphs, lists, tables, frames, notes.
- RTF (`rtf`): striprtf, with the declared code page.
- EPUB (`ebook`): the OPF spine read with lxml; one page per chapter, titled from the table of contents,
  each chapter's XHTML read as HTML.
- EML (`mail`): the standard library's `email`; From/To/Cc/Date/Subject, the plain or HTML body, the
  attachments listed, and attached documents of supported types parsed (attached messages too, 3 deep).
- HTML (`web`): decoded by BOM, declared charset, ``<meta charset>`` or detection;
  scripts, styles, navigation, headers, footers and asides dropped, and navigation that is
  not marked as such (`web_navigation`: texinfo panels, breadcrumbs, menus, link lists);
  h1–h6 as headings.
- Markdown and plain text: decoded (UTF-8, UTF-16/32 with BOM, legacy
  single-byte encodings via charset-normalizer) and kept as they are.
- CSV/TSV: a header line, then one ``column: value, column: value`` line per
  row (empty values left out), plus the whole file as a `Table`.
- JSON: one ``path.to.key: value`` line per leaf value (``items[0].name: x``).
- Images (`image`): PNG, JPEG, TIFF (one page per frame), WebP and GIF (first frame), decoded by Pillow and
  read by OCR (RapidOCR, `ocr`): lines in reading order (`ocr_layout`), `PageSpan.ocr_confidence` per page.

Tables use the first row as `Table.header`. Formats without pages get one
`PageSpan` covering the whole text, and `DocumentMetadata.page_count` is 1.

Failures raise `ParseError`, whose `code` is one of:

- ``EMPTY_FILE``: the file has 0 bytes, or its text is only whitespace (also a
  DOCX, HTML page or JSON value with no text in it).
- ``CORRUPT_FILE``: the file is damaged: a truncated or malformed PDF that
  neither pypdf nor pdfminer.six can read (or whose pages fail to read, for
  example objects nested too deep to walk), a DOCX that is not a readable ZIP
  package or lacks its document part (likewise PPTX, XLSX, EPUB, ODT, or a
  ZIP member whose data does not match its header), an RTF file that does not
  start with ``{\\rtf``, an "e-mail" without headers, invalid JSON, malformed CSV.
- ``ENCRYPTED_DOCUMENT``: a password-protected PDF that does not open with an
  empty password, or a password-protected DOCX (which Office stores as an
  OLE compound file, magic ``D0 CF 11 E0``, not a ZIP; PPTX and XLSX alike),
  a password-protected ODT, a DRM-protected EPUB, an encrypted (S/MIME, OpenPGP) e-mail.
- ``NO_TEXT_LAYER``: a PDF none of whose pages yields any text (scanned or
  image-only) and an image, when OCR is off; with OCR, such a PDF or image in
  which OCR finds no legible text either (a blank page, a photo without text).
- ``UNDECODABLE_TEXT``: a text format (plain text, Markdown, HTML, CSV, JSON)
  whose bytes are not text in any common encoding (binary data).
- ``DOCUMENT_TOO_LARGE``: the document is over a `ParseLimits` limit: more
  characters of text than ``max_characters``, or an archive-based format
  (DOCX, PPTX, XLSX, EPUB, ODT) whose members unpack, as actually read, past ``max_expanded_bytes``, or a
  workbook with more than ``max_cells`` cells holding a value, or more pages to OCR than
  ``max_ocr_pages``, or an image frame over `image.MAX_PIXELS` pixels (a decompression bomb).
- ``UNSUPPORTED_TYPE``: a media type outside `vecflow.pipeline.detect.SUPPORTED`,
  or a legacy Office 97-2003 file (.doc, .ppt, .xls) passed as its OOXML successor.

`ParseError.message` is a sentence a person can act on; other exceptions
(file not found, out of memory) propagate unchanged.

The package holds one module per format family (`pdf`, `word` for DOCX, `web` for HTML, `plain` for Markdown
and plain text, `delimited` for CSV/TSV, `structured` for JSON, `slides`, `sheets`, `opendocument`, `rtf`,
`ebook`, `mail`); `archive` has the checks every ZIP-based format gets (bombs, encrypted and legacy Office
files); `model` has the results, `ParseError` and `ParseLimits`, `text` the shared text helpers and `encoding` the decoding of text formats.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from vecflow.pipeline.detect import (
    CSV,
    DOCX,
    EML,
    EPUB,
    HTML,
    IMAGES,
    JSON,
    MARKDOWN,
    ODT,
    PDF,
    PLAIN,
    PPTX,
    RTF,
    SUPPORTED,
    TSV,
    XLSX,
    normalize_media_type,
)
from vecflow.pipeline.parse.delimited import parse_csv
from vecflow.pipeline.parse.ebook import parse_epub
from vecflow.pipeline.parse.encoding import charset_param
from vecflow.pipeline.parse.image import parse_image
from vecflow.pipeline.parse.mail import parse_eml
from vecflow.pipeline.parse.model import (
    CORRUPT_FILE,
    DOCUMENT_TOO_LARGE,
    EMPTY_FILE,
    ENCRYPTED_DOCUMENT,
    NO_TEXT_LAYER,
    UNDECODABLE_TEXT,
    UNSUPPORTED_TYPE,
    DocumentMetadata,
    PageSpan,
    ParsedDocument,
    ParseError,
    ParseLimits,
    Table,
    too_large,
)
from vecflow.pipeline.parse.ocr import OcrOptions
from vecflow.pipeline.parse.opendocument import parse_odt
from vecflow.pipeline.parse.pdf import parse_pdf
from vecflow.pipeline.parse.plain import parse_text
from vecflow.pipeline.parse.rtf import parse_rtf
from vecflow.pipeline.parse.sheets import parse_xlsx
from vecflow.pipeline.parse.slides import parse_pptx
from vecflow.pipeline.parse.structured import parse_json
from vecflow.pipeline.parse.text import first_line_title, language_of
from vecflow.pipeline.parse.web import parse_html
from vecflow.pipeline.parse.word import parse_docx

__all__ = [
    "CORRUPT_FILE",
    "DOCUMENT_TOO_LARGE",
    "EMPTY_FILE",
    "ENCRYPTED_DOCUMENT",
    "NO_TEXT_LAYER",
    "UNDECODABLE_TEXT",
    "UNSUPPORTED_TYPE",
    "DocumentMetadata",
    "OcrOptions",
    "PageSpan",
    "ParseError",
    "ParseLimits",
    "ParsedDocument",
    "Table",
    "language_of",
    "parse_document",
]

SUPPORTED_NAMES = (
    "PDF, DOCX, PPTX, XLSX, ODT, RTF, EPUB, EML, HTML, Markdown, plain text, CSV, JSON and images "
    "(PNG, JPEG, TIFF, WebP, GIF)"
)


_TEXT_TYPES = frozenset({PLAIN, MARKDOWN, CSV, TSV, JSON})  # formats whose text is about as long as the file


def parse_document(
    path: Path,
    content_type: str,
    *,
    detect_language: bool = True,
    limits: ParseLimits | None = None,
    ocr: OcrOptions | str | None = None,
) -> ParsedDocument:
    """Parse the file at `path` as `content_type` (parameters such as ``charset=`` are honoured).

    A language the document does not declare is detected from its text unless `detect_language` is
    False (the ingestion path leaves that to the extract job: it costs more than parsing a small file).
    `ocr` is the OCR mode ("auto", "off", "force"; see `vecflow.pipeline.parse.ocr`) or `OcrOptions` with
    progress callbacks. Raises `ParseError` for documents that cannot be parsed or are over `limits`; see the
    module docstring.
    """
    limits = limits or ParseLimits()
    options = ocr if isinstance(ocr, OcrOptions) else OcrOptions(ocr or "auto")
    media_type = normalize_media_type(content_type)
    parser = _PARSERS.get(media_type)
    ocr_parser = _OCR_PARSERS.get(media_type)
    if parser is None and ocr_parser is None:
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
        raise too_large("text", limits.max_characters, "characters", "VECFLOW_PARSE_MAX_CHARACTERS")
    if ocr_parser is not None:
        document = ocr_parser(path, limits, options)
    else:
        assert parser is not None
        document = parser(path, charset_param(content_type), limits)
    if len(document.text) > limits.max_characters:
        raise too_large("text", limits.max_characters, "characters", "VECFLOW_PARSE_MAX_CHARACTERS")
    document.content_type = media_type
    meta = document.metadata
    if meta.language is None and detect_language:
        meta.language = language_of(document.text)
    if meta.title is None and media_type in (PLAIN, MARKDOWN):
        meta.title = first_line_title(document.text)
    meta.page_count = len(document.pages)
    return document


def _parse_attachment(path: Path, media_type: str, limits: ParseLimits) -> ParsedDocument:
    """A document attached to an e-mail, parsed like an upload (its language left to the extract job)."""
    return parse_document(path, media_type, detect_language=False, limits=limits)


_PARSERS: dict[str, Callable[[Path, str | None, ParseLimits], ParsedDocument]] = {
    DOCX: parse_docx,
    PPTX: parse_pptx,
    XLSX: parse_xlsx,
    ODT: parse_odt,
    RTF: parse_rtf,
    EPUB: parse_epub,
    EML: lambda path, charset, limits: parse_eml(path, charset, limits, parse_attachment=_parse_attachment),
    HTML: parse_html,
    MARKDOWN: lambda path, charset, limits: parse_text(path, charset, limits, markdown=True),
    PLAIN: lambda path, charset, limits: parse_text(path, charset, limits, markdown=False),
    CSV: parse_csv,
    TSV: lambda path, charset, limits: parse_csv(path, charset, limits, delimiter="\t"),
    JSON: parse_json,
}
# Formats whose pages may need OCR take the parse's OCR options.
_OCR_PARSERS: dict[str, Callable[[Path, ParseLimits, OcrOptions], ParsedDocument]] = {
    PDF: lambda path, limits, ocr: parse_pdf(path, None, limits, ocr),
    **dict.fromkeys(IMAGES, parse_image),
}
assert set(_PARSERS) | set(_OCR_PARSERS) == SUPPORTED and not set(_PARSERS) & set(_OCR_PARSERS)
