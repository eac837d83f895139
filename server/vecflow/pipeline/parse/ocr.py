"""OCR: text from page images, with RapidOCR (PP-OCRv6 models in ONNX, shipped inside the `rapidocr` wheel).

The engine is loaded lazily, once per process (a parse worker keeps it for the documents it parses after the
first), and runs on onnxruntime's CPU provider. `read_page` returns a page's text in reading order
(`ocr_layout`) with the mean confidence of its lines. Chosen over rapidocr-onnxruntime 1.4.4 (PP-OCRv4) by
measurement: see bench/README.md, "OCR".

The `ocr` setting of a parse (`OcrOptions.mode`):

- ``auto`` (the default): images, and the PDF pages that have no text layer;
- ``off``: no OCR — a PDF without a text layer and an image fail with ``NO_TEXT_LAYER``;
- ``force``: every page, the text layer of a PDF page replaced by what OCR reads.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from vecflow.pipeline.parse.model import DOCUMENT_TOO_LARGE, NO_TEXT_LAYER, ParseError, ParseLimits, library
from vecflow.pipeline.parse.ocr_layout import TextBox, page_text
from vecflow.pipeline.parse.text import clean

if TYPE_CHECKING:
    from PIL.Image import Image

AUTO = "auto"
OFF = "off"
FORCE = "force"
MODES = (AUTO, OFF, FORCE)

MAX_SIDE = 2000  # pixels: the engine scales larger images down to this; we render and resize to it ourselves
# Text detection at this longest side: as accurate as at full size on generated and real scans, and faster (960
# lost accuracy on a real scan). No per-line angle classifier: on upright pages it turned some lines upside down
# and garbled them. Figures: bench/README.md, "OCR".
DETECT_SIDE = 1280
_PARAMS: dict[str, Any] = {
    "Global.log_level": "error",
    "Global.max_side_len": MAX_SIDE,
    "Global.use_cls": False,
    "Det.limit_type": "max",
    "Det.limit_side_len": DETECT_SIDE,
}

ProgressCallback = Callable[[int, int, int, "float | None"], None]
"""Called after each OCR'd page: (page number, pages OCR'd so far, pages to OCR in all, the page's confidence)."""


@dataclass(frozen=True)
class OcrOptions:
    """How a parse uses OCR: the mode, a progress callback, and a wrapper for the engine's one-time loading
    (`load_with(load)` must call `load()`; a parse worker re-measures its memory baseline around it)."""

    mode: str = AUTO
    progress: ProgressCallback | None = None
    load_with: Callable[[Callable[[], None]], None] | None = None

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"ocr mode {self.mode!r} is not one of {', '.join(MODES)}")


@dataclass(frozen=True)
class OcrPage:
    """What OCR read on one page: its text, and the mean confidence (0–1) of its lines (None: no text found)."""

    text: str
    confidence: float | None
    lines: int


def engine_name() -> str:
    """The engine's name and version, for `ParsedDocument.parser` ("rapidocr 3.10.0")."""
    return library("rapidocr")


_engine: Any = None


def _load(options: OcrOptions) -> Any:
    if _engine is None:
        if options.load_with is not None:
            options.load_with(_load_engine)
        else:
            _load_engine()
    return _engine


def _load_engine() -> None:
    global _engine
    from rapidocr import RapidOCR

    logging.getLogger("RapidOCR").setLevel(logging.ERROR)
    engine = RapidOCR(params=dict(_PARAMS))
    engine(_warm_up_image())  # the models load on first use: load them now, inside `load_with`
    _engine = engine


def _warm_up_image() -> Any:
    import numpy as np
    from PIL import Image as PILImage
    from PIL import ImageDraw, ImageFont

    image = PILImage.new("L", (360, 64), 255)
    ImageDraw.Draw(image).text((12, 14), "Warm up 123", fill=0, font=ImageFont.load_default(size=30))
    return np.asarray(image)


def prepare(image: Image) -> Image:
    """`image` as the engine wants it: 8-bit grayscale or RGB (transparency onto white, 16-bit scaled down),
    at most MAX_SIDE pixels on its longer side."""
    from PIL import Image as PILImage

    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (image.mode == "P" and "transparency" in image.info):
        image = _flatten(image.convert("RGBA"))
    elif image.mode in ("I", "F") or image.mode.startswith("I;16"):
        image = _to_8bit(image)
    elif image.mode in ("1", "L"):
        image = image.convert("L")
    elif image.mode != "RGB":  # P, CMYK, YCbCr, LAB, HSV
        image = image.convert("RGB")
    longest = max(image.size)
    if longest > MAX_SIDE:
        scale = MAX_SIDE / longest
        size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        image = image.resize(size, PILImage.Resampling.LANCZOS, reducing_gap=3.0)
    return image


def _flatten(image: Image) -> Image:
    """Transparent pixels onto white (text drawn on a transparent background would otherwise vanish)."""
    from PIL import Image as PILImage

    background = PILImage.new("RGB", image.size, (255, 255, 255))
    background.paste(image, mask=image.getchannel("A"))
    return background


def _to_8bit(image: Image) -> Image:
    """16- and 32-bit grayscale scaled to 8 bits (Pillow's own conversion clips everything above 255 to white)."""
    import numpy as np
    from PIL import Image as PILImage

    values = np.asarray(image, dtype=np.float32)
    top = 65535.0 if image.mode.startswith("I;16") else max(255.0, float(values.max(initial=0.0)))
    return PILImage.fromarray((values * (255.0 / top)).clip(0, 255).astype(np.uint8), "L")


def read_page(image: Image, options: OcrOptions) -> OcrPage:
    """OCR one page image (any Pillow mode and size; see `prepare`). A page scanned the wrong way round is
    turned: one whose text lines mostly stand upright (it lies on its side) is read turned both ways, one that
    reads with low confidence is read upside down; the reading with the higher confidence wins."""
    from PIL import Image as PILImage

    prepared = prepare(image)
    best, boxes = _read(prepared, options)
    if best.confidence is None or best.lines < 2:
        return best
    confidence = best.confidence
    if sum(b.x1 - b.x0 < b.y1 - b.y0 for b in boxes) > len(boxes) / 2:
        # On its side: the engine turns each standing line to read it, so even a confident reading has its
        # lines in the wrong order. A turned page with about the same confidence is better.
        turned = [
            _read(prepared.transpose(t), options)[0]
            for t in (PILImage.Transpose.ROTATE_90, PILImage.Transpose.ROTATE_270)
        ]
        candidate = max(turned, key=lambda page: page.confidence or 0.0)
        if (candidate.confidence or 0.0) >= confidence - 0.05:
            best = candidate
    elif confidence < _RETRY_BELOW:
        candidate, _ = _read(prepared.transpose(PILImage.Transpose.ROTATE_180), options)
        if (candidate.confidence or 0.0) > confidence + 0.05:
            best = candidate
    return best


_RETRY_BELOW = 0.8  # mean line confidence: upright text reads at 0.95–1.0, a page upside down at 0.6–0.7


def _read(image: Image, options: OcrOptions) -> tuple[OcrPage, list[TextBox]]:
    import numpy as np

    engine = _load(options)
    try:
        result = engine(np.asarray(image))
    except Exception as exc:  # onnxruntime reports an allocation failure as its own RuntimeException
        if "bad_alloc" in str(exc):
            raise MemoryError(str(exc)) from exc
        raise
    boxes: list[TextBox] = []
    if result.boxes is not None and result.txts is not None:
        for corners, text, score in zip(result.boxes, result.txts, result.scores or (), strict=False):
            xs = [float(point[0]) for point in corners]
            ys = [float(point[1]) for point in corners]
            # Corners clockwise from the top left: the left and right edges' lengths are the text's height.
            left = math.dist(corners[0], corners[3])
            right = math.dist(corners[1], corners[2])
            box = TextBox(min(xs), min(ys), max(xs), max(ys), str(text), float(score), (left + right) / 2)
            boxes.append(box)
    text = clean(page_text(boxes))
    kept = [b for b in boxes if b.text.strip()]
    confidence = round(sum(b.confidence for b in kept) / len(kept), 4) if kept and text else None
    return OcrPage(text=text, confidence=confidence, lines=len(kept)), kept


def check_pages(count: int, limits: ParseLimits) -> None:
    """Raise DOCUMENT_TOO_LARGE when `count` pages to OCR are over the limit (before any is read)."""
    if count > limits.max_ocr_pages:
        raise ParseError(
            DOCUMENT_TOO_LARGE,
            f"The document has {count:,} pages that need OCR, over the limit of {limits.max_ocr_pages:,} per "
            "document. Split it into smaller documents, or ask the operator to raise VECFLOW_OCR_MAX_PAGES.",
        )


def no_text(what: str, pages: int, mode: str) -> ParseError:
    """NO_TEXT_LAYER for a PDF (`what` "PDF", with its page count) or an image, saying whether OCR was off or
    found nothing legible."""
    if what == "PDF":
        counted = f"The PDF has {pages} page{'s' if pages != 1 else ''} but no text layer"
        if mode == OFF:
            return ParseError(
                NO_TEXT_LAYER,
                f"{counted} (it looks scanned or image-only), and OCR is off for this parse. Parse it again with "
                "ocr set to auto or force, or upload a version with a text layer.",
            )
        return ParseError(
            NO_TEXT_LAYER,
            f"{counted}, and OCR found no legible text on {'them' if pages != 1 else 'it'}. If it does contain "
            "text, upload a sharper scan (200–300 dpi).",
        )
    if mode == OFF:
        return ParseError(
            NO_TEXT_LAYER,
            "The file is an image: its text can only be read with OCR, which is off for this parse. Parse it "
            "again with ocr set to auto or force.",
        )
    return ParseError(
        NO_TEXT_LAYER,
        "OCR found no legible text in the image. If it does contain text, upload a sharper scan "
        "(200–300 dpi, text at least 20 pixels high).",
    )
