"""PDF: page texts and document info read by pypdf, falling back to pdfminer.six; pages without a text layer
read by OCR (`pdf_ocr`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from vecflow.pipeline.detect import PDF
from vecflow.pipeline.parse.model import (
    CORRUPT_FILE,
    EMPTY_FILE,
    ENCRYPTED_DOCUMENT,
    DocumentMetadata,
    PageSpan,
    ParsedDocument,
    ParseError,
    ParseLimits,
    library,
)
from vecflow.pipeline.parse.ocr import OcrOptions, engine_name, no_text
from vecflow.pipeline.parse.pdf_ocr import ocr_pdf_pages
from vecflow.pipeline.parse.pdf_outline import outline_headings
from vecflow.pipeline.parse.pdf_tables import find_tables
from vecflow.pipeline.parse.text import clean, language_code, pdf_date, split_authors


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
    from pypdf.generic import ArrayObject, DictionaryObject, StreamObject

    reader = pypdf.PdfReader(path)
    if reader.is_encrypted:
        try:
            opened = reader.decrypt("")
        except (DependencyError, NotImplementedError) as exc:
            raise _encrypted_pdf() from exc
        if not opened:
            raise _encrypted_pdf()
    result = _PdfText(pages=[], parser=library("pypdf"))
    for page in reader.pages:
        try:
            contents = page.get("/Contents")
            contents = contents.get_object() if contents is not None else None
            if contents is not None and not isinstance(contents, (StreamObject, ArrayObject)):
                raise ValueError(f"a page's /Contents is a {type(contents).__name__}, not a content stream")
            result.pages.append(clean(page.extract_text()))
        except Exception as exc:
            result.failed(exc)
    try:
        info: dict[Any, Any] = reader.metadata or {}
        result.title = _text_or_none(info.get("/Title"))
        result.authors = split_authors(_text_or_none(info.get("/Author")))
        result.created = pdf_date(_text_or_none(info.get("/CreationDate")))
        result.modified = pdf_date(_text_or_none(info.get("/ModDate")))
        root = cast(DictionaryObject, reader.trailer["/Root"])  # one that is not fails below, and is caught
        result.language = language_code(_text_or_none(root.get("/Lang")))
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
    value = clean(value)
    return value or None


def _pdf_with_pdfminer(path: Path) -> _PdfText:
    from pdfminer.converter import PDFPageAggregator
    from pdfminer.layout import LAParams, LTTextContainer
    from pdfminer.pdfdocument import PDFDocument, PDFEncryptionError, PDFPasswordIncorrect
    from pdfminer.pdfinterp import PDFPageInterpreter, PDFResourceManager
    from pdfminer.pdfpage import PDFPage
    from pdfminer.pdfparser import PDFParser
    from pdfminer.pdftypes import resolve1

    result = _PdfText(pages=[], parser=library("pdfminer.six"))
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
                result.pages.append(clean(text))
            except Exception as exc:
                result.failed(exc)
        try:
            info: dict[str, Any] = {}
            for entry in document.info:
                info.update(entry)
            result.title = _text_or_none(resolve1(info.get("Title")))
            result.authors = split_authors(_text_or_none(resolve1(info.get("Author"))))
            result.created = pdf_date(_text_or_none(resolve1(info.get("CreationDate"))))
            result.modified = pdf_date(_text_or_none(resolve1(info.get("ModDate"))))
            result.language = language_code(_text_or_none(resolve1(document.catalog.get("Lang"))))
        except Exception:
            pass
    return result


def parse_pdf(path: Path, charset: str | None, limits: ParseLimits, ocr: OcrOptions | None = None) -> ParsedDocument:
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
    ocr = ocr or OcrOptions()
    from_ocr = ocr_pdf_pages(path, result.pages, ocr, limits)  # pages without a text layer (all with force)
    if result.chars == 0:
        raise no_text("PDF", len(result.pages), ocr.mode)

    parts: list[str] = []
    spans: list[PageSpan] = []
    offset = 0
    for number, page_text in enumerate(result.pages, start=1):
        if number > 1:
            parts.append("\n\n")
            offset += 2
        parts.append(page_text)
        spans.append(PageSpan(number, offset, offset + len(page_text), ocr_confidence=from_ocr.get(number - 1)))
        offset += len(page_text)
    tables, parser = find_tables(path, result.pages, result.parser, limits.max_table_pages)
    parser = f"{parser} + {engine_name()}" if from_ocr else parser
    return ParsedDocument(
        text="".join(parts),
        content_type=PDF,
        parser=parser,
        pages=spans,
        tables=tables,
        headings=outline_headings(path, result.pages, spans),
        metadata=DocumentMetadata(
            title=result.title,
            authors=result.authors,
            created=result.created,
            modified=result.modified,
            language=result.language,
        ),
    )
