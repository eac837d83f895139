"""OCR for PDF pages: which pages need it, rendering them with PDFium (pypdfium2), and reading them (`ocr`).

With ``auto`` the pages whose text layer has no visible character are read; with ``force`` every page is, and
what OCR reads replaces the page's text layer (a page where OCR finds nothing keeps its text layer). Pages are
rendered in grayscale so that their longer side is `ocr.MAX_SIDE` pixels (an A4 page at about 170 dpi), which
measured a lower error rate than OCR of the page's embedded images (bench/ocr.py) and also reads pages whose
text is vector outlines or split across several images.
"""

from __future__ import annotations

from pathlib import Path

from vecflow.pipeline.parse.model import CORRUPT_FILE, ParseError, ParseLimits
from vecflow.pipeline.parse.ocr import FORCE, MAX_SIDE, OFF, OcrOptions, check_pages, read_page

_MAX_SCALE = 8.0  # 576 dpi: a business card still renders at MAX_SIDE; nothing smaller is upscaled further


def pages_to_read(texts: list[str], mode: str) -> list[int]:
    """Indexes of the pages OCR reads in `mode`: none when off, all when forced, else those without text."""
    if mode == OFF:
        return []
    return [index for index, text in enumerate(texts) if mode == FORCE or not "".join(text.split())]


def ocr_pdf_pages(path: Path, texts: list[str], options: OcrOptions, limits: ParseLimits) -> dict[int, float | None]:
    """OCR the pages that need it, replacing their entries in `texts`; returns {page index: confidence} of the
    pages whose text now comes from OCR."""
    todo = pages_to_read(texts, options.mode)
    if not todo:
        return {}
    check_pages(len(todo), limits)
    import pypdfium2 as pdfium

    try:
        document = pdfium.PdfDocument(path)
    except pdfium.PdfiumError as exc:
        raise ParseError(
            CORRUPT_FILE,
            f"The PDF's pages could not be rendered for OCR ({exc}). Re-save it with a PDF viewer and upload it again.",
        ) from exc
    confidences: dict[int, float | None] = {}
    try:
        for done, index in enumerate(todo, start=1):
            page = document[index]
            try:
                width, height = page.get_size()
                scale = min(_MAX_SCALE, MAX_SIDE / max(width, height, 1.0))
                bitmap = page.render(scale=scale, grayscale=True, may_draw_forms=True)
                try:  # the image shares the bitmap's buffer: read it before the bitmap is closed
                    result = read_page(bitmap.to_pil(), options)
                finally:
                    bitmap.close()
            finally:
                page.close()
            if result.text:
                texts[index] = result.text
                confidences[index] = result.confidence
            if options.progress is not None:
                options.progress(index + 1, done, len(todo), result.confidence)
    finally:
        document.close()
    return confidences
