"""Images (PNG, JPEG, TIFF, WebP, GIF): decoded by Pillow, read by OCR (`ocr`); one page per TIFF frame.

A multi-page TIFF (what scanners and fax software write) gives one page per frame; an animated GIF or WebP
gives its first frame only (the others are an animation, not more pages). EXIF orientation is applied.
Guards, before any pixel is decoded: a frame over `MAX_PIXELS` (Pillow's own decompression-bomb threshold)
and more frames than ``ParseLimits.max_ocr_pages`` are ``DOCUMENT_TOO_LARGE``; a file Pillow cannot read,
or whose data ends early, is ``CORRUPT_FILE``; an image in which OCR finds no text is ``NO_TEXT_LAYER``,
and so is any image when OCR is off.
"""

from __future__ import annotations

import functools
import itertools
import math
import struct
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from vecflow.pipeline.parse.model import (
    CORRUPT_FILE,
    DOCUMENT_TOO_LARGE,
    DocumentMetadata,
    PageSpan,
    ParsedDocument,
    ParseError,
    ParseLimits,
)
from vecflow.pipeline.parse.ocr import MAX_SIDE, OFF, OcrOptions, check_pages, engine_name, no_text, read_page

if TYPE_CHECKING:
    from PIL.Image import Image

MAX_PIXELS = 89_478_485  # per frame: Pillow's Image.MAX_IMAGE_PIXELS (a 24-bit image of 0.25 GiB), e.g. 9,400 × 9,500
_MULTI_PAGE_FORMATS = frozenset({"TIFF"})
T = TypeVar("T")


def parse_image(path: Path, limits: ParseLimits, ocr: OcrOptions) -> ParsedDocument:
    """The text OCR reads in the image at `path`, a page per frame (see the module docstring)."""
    if ocr.mode == OFF:
        raise no_text("image", 1, OFF)
    from PIL import Image as PILImage

    texts: list[str] = []
    confidences: list[float | None] = []
    with _guarded(lambda: PILImage.open(path)) as image:
        frames = _guarded(lambda: _frames(image, limits)) if image.format in _MULTI_PAGE_FORMATS else 1
        check_pages(frames, limits)
        for index in range(frames):
            page = read_page(_guarded(functools.partial(_decoded, image, index)), ocr)
            texts.append(page.text)
            confidences.append(page.confidence)
            if ocr.progress is not None:
                ocr.progress(index + 1, index + 1, frames, page.confidence)
    if not any(texts):
        raise no_text("image", frames, ocr.mode)
    parts: list[str] = []
    spans: list[PageSpan] = []
    offset = 0
    for number, (text, confidence) in enumerate(zip(texts, confidences, strict=True), start=1):
        if number > 1:
            parts.append("\n\n")
            offset += 2
        parts.append(text)
        spans.append(PageSpan(number, offset, offset + len(text), ocr_confidence=confidence))
        offset += len(text)
    return ParsedDocument(
        text="".join(parts),
        content_type="",  # parse_document sets the media type
        parser=engine_name(),
        pages=spans,
        metadata=DocumentMetadata(),
    )


def _guarded(decode: Callable[[], T]) -> T:
    """`decode()`, with Pillow's errors for unreadable, truncated and oversized images as ParseErrors."""
    from PIL import Image as PILImage
    from PIL import UnidentifiedImageError

    try:
        with warnings.catch_warnings():  # over Pillow's warning threshold: `_decoded` refuses it with a reason
            warnings.simplefilter("ignore", PILImage.DecompressionBombWarning)
            return decode()
    except UnidentifiedImageError as exc:
        raise _corrupt("it is not an image format Pillow can read") from exc
    except PILImage.DecompressionBombError as exc:
        raise _too_many_pixels(str(exc).split(" could be")[0]) from exc
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, struct.error) as exc:  # truncated, malformed
        raise _corrupt(f"{type(exc).__name__}: {exc}"[:200]) from exc


def _frames(image: Image, limits: ParseLimits) -> int:
    """How many frames a multi-page image has, counted without decoding them and at most one past the limit."""
    for index in itertools.count():
        if index > limits.max_ocr_pages:
            return index
        try:
            image.seek(index)
        except EOFError:
            return max(1, index)
    raise AssertionError("unreachable")  # pragma: no cover


def _decoded(image: Image, index: int) -> Image:
    """Frame `index` decoded (a large JPEG at a reduced scale), upright per its EXIF orientation."""
    from PIL import ImageOps

    image.seek(index)
    width, height = image.size
    if width * height > MAX_PIXELS:
        raise _too_many_pixels(f"{width:,} × {height:,} pixels")
    longest = max(width, height)
    if image.format == "JPEG" and longest > 2 * MAX_SIDE:  # let the decoder scale down: less memory, faster
        factor = MAX_SIDE / longest
        image.draft(image.mode, (math.ceil(width * factor), math.ceil(height * factor)))
    image.load()
    upright = ImageOps.exif_transpose(image)
    return upright if upright is not None else image


def _too_many_pixels(detail: str) -> ParseError:
    return ParseError(
        DOCUMENT_TOO_LARGE,
        f"The image is too large to read ({detail}); the limit is {MAX_PIXELS:,} pixels per image or page. "
        "Scale it down (300 dpi is plenty for text) and upload it again.",
    )


def _corrupt(detail: str) -> ParseError:
    return ParseError(
        CORRUPT_FILE,
        f"The image is damaged or truncated and could not be decoded ({detail}). Upload the complete original "
        "file, or re-save it with an image editor.",
    )
