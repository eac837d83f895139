"""Generated "scanned" pages for the OCR tests and bench/ocr.py: text rendered with Pillow's bundled font,
saved as images and image-only PDFs, and the character error rate (CER) of what OCR read back.

Only Pillow and pypdf, so both the tests and the benchmark can build them anywhere.
"""

from __future__ import annotations

import io
import random
from collections.abc import Sequence
from pathlib import Path

from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageFont

PARAGRAPHS = (
    "Invoices are payable within 30 days of receipt. Late payments accrue interest at 1.5% per month, "
    "and the supplier may suspend deliveries after a written reminder.",
    "Section 4.2 covers termination: either party may end this agreement with 90 days' notice, "
    "given in writing to the address in Schedule B.",
    "The quick brown fox jumps over the lazy dog while the committee reviews the budget for 2026.",
    "Warranty claims must include the serial number, the date of purchase and a short description "
    "of the fault; replacement parts ship within five working days.",
    "Meeting notes, 14 March: the migration to the new archive is on schedule; scanning of the "
    "remaining 1,200 contracts starts next week in building C.",
    "All measurements are in millimetres unless stated otherwise. Tolerances of 0.05 mm apply "
    "to the bearing seats and the shaft shoulders.",
)


def font(size: int = 26) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """Pillow's bundled default font at `size` pixels (FreeType builds ship a scalable one)."""
    return ImageFont.load_default(size=size)


def wrap(text: str, width: int, face: ImageFont.FreeTypeFont | ImageFont.ImageFont) -> list[str]:
    """`text` broken into lines no wider than `width` pixels in `face`."""
    lines: list[str] = []
    current = ""
    for word in text.split():
        candidate = f"{current} {word}" if current else word
        if current and face.getlength(candidate) > width:
            lines.append(current)
            current = word
        else:
            current = candidate
    if current:
        lines.append(current)
    return lines


def render_page(
    paragraphs: Sequence[str],
    *,
    width: int = 1240,
    height: int | None = None,
    size: int = 26,
    margin: int = 80,
    scan: bool = True,
    seed: int = 0,
) -> tuple[Image.Image, str]:
    """A grayscale page (1240 px wide: A4 at 150 dpi) with `paragraphs`, and its ground-truth text (lines
    joined by newlines, paragraphs by blank lines). `scan` adds what a scanner does: a slight skew, blur
    and noise."""
    face = font(size)
    line_height = int(size * 1.45)
    blocks = [wrap(p, width - 2 * margin, face) for p in paragraphs]
    needed = 2 * margin + sum(len(b) * line_height + line_height for b in blocks)
    page = Image.new("L", (width, height or max(needed, int(width * 1.414))), 255)
    draw = ImageDraw.Draw(page)
    y = margin
    for block in blocks:
        for line in block:
            draw.text((margin, y), line, fill=20, font=face)
            y += line_height
        y += line_height
    if scan:
        rng = random.Random(seed)
        page = page.rotate(rng.uniform(-0.6, 0.6), resample=Image.Resampling.BICUBIC, fillcolor=255, expand=False)
        page = page.filter(ImageFilter.GaussianBlur(0.6))
        page = ImageChops.add(page, Image.effect_noise(page.size, 20), 1.0, -128)  # grain around 0
    truth = "\n\n".join("\n".join(block) for block in blocks)
    return page, truth


def pages(count: int, *, per_page: int = 3, scan: bool = True, size: int = 26) -> list[tuple[Image.Image, str]]:
    """`count` different pages of `per_page` paragraphs each, cycling through PARAGRAPHS."""
    out = []
    for number in range(count):
        chosen = [PARAGRAPHS[(number * per_page + k) % len(PARAGRAPHS)] for k in range(per_page)]
        out.append(render_page(chosen, scan=scan, seed=number, size=size))
    return out


def image_pdf(images: Sequence[Image.Image], dpi: float = 150.0) -> bytes:
    """An image-only PDF, one page per image (what a scanner writes): no text layer at all."""
    buffer = io.BytesIO()
    first, *rest = [image.convert("L") for image in images]
    first.save(buffer, "PDF", resolution=dpi, save_all=True, append_images=rest)
    return buffer.getvalue()


def text_pdf_page(text: str) -> bytes:
    """A one-page PDF with `text` in its text layer (Helvetica), made with reportlab when installed, else by hand."""
    try:
        from reportlab.lib.pagesizes import A4
        from reportlab.pdfgen import canvas
    except ImportError:  # pragma: no cover - reportlab is a dev dependency
        return _hand_made_text_pdf(text)
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=A4)
    y = A4[1] - 72
    for line in text.splitlines():
        pdf.drawString(72, y, line)
        y -= 16
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def _hand_made_text_pdf(text: str) -> bytes:
    lines = "".join(f"({line}) Tj T* " for line in text.splitlines())
    stream = f"BT /F1 12 Tf 16 TL 72 770 Td {lines}ET".encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = io.BytesIO(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref))
    return out.getvalue()


def mixed_pdf(text_page: str, scanned: Image.Image) -> bytes:
    """A two-page PDF: page 1 has `text_page` in a text layer, page 2 is the scanned image only."""
    import pypdf

    writer = pypdf.PdfWriter()
    for data in (text_pdf_page(text_page), image_pdf([scanned])):
        writer.append(pypdf.PdfReader(io.BytesIO(data)))
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def save_image(image: Image.Image, path: Path, **options: object) -> Path:
    """Save in the format of `path`'s extension (a multi-frame TIFF takes ``save_all`` and ``append_images``)."""
    image.save(path, **options)
    return path


def normalize(text: str) -> str:
    """Whitespace collapsed to single spaces: layout is not what CER measures."""
    return " ".join(text.split())


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance (insertions, deletions, substitutions), two rows at a time."""
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        current = [i]
        for j, cb in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def cer(read: str, truth: str) -> float:
    """Character error rate: edit distance of the normalized texts over the truth's length."""
    truth_n = normalize(truth)
    return edit_distance(normalize(read), truth_n) / max(1, len(truth_n))
