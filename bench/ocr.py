"""OCR: character error rate (CER) and pages/s of vecflow's OCR paths, beside the engine called directly.

    .venv/bin/python bench/ocr.py             # 6 generated A4 pages, and the shared scans when present
    .venv/bin/python bench/ocr.py --quick     # 2 pages
    .venv/bin/python bench/ocr.py --threads 1 # onnxruntime on one core (default: all cores)

Pages are generated (tests/helpers/ocr_pages.py: Pillow's bundled font at 26 px on a 1240 × 1754 page, A4 at
150 dpi, with a scanner's skew, blur and grain) so the true text is known. Printed:

1. engines on the same page images: RapidOCR 3.10 (PP-OCRv6) as vecflow configures it, RapidOCR 3.10 with
   its default settings, and rapidocr-onnxruntime 1.4.4 (PP-OCRv4) when it is installed (it is not a
   dependency: ``pip install --no-deps rapidocr-onnxruntime==1.4.4`` to include it; it needs the same
   opencv, onnxruntime and shapely);
2. how a PDF page becomes the image OCR reads: rendered by pypdfium2 (what vecflow does) or its embedded
   image taken out by pypdf;
3. vecflow's paths (`parse_document` on PNG files and on image-only PDFs, in this process) against the engine
   called directly on the same rendered pages: pages/s and the ratio;
4. the shared scans (../shared/data/docs): ocrmypdf_linn.pdf against its transcription, ocrmypdf_c02-22.pdf.
"""

from __future__ import annotations

import argparse
import io
import logging
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from common import ROOT

sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "server"))
from helpers.ocr_pages import cer, image_pdf, pages

SHARED = ROOT.parent / "shared" / "data" / "docs"


def _timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    started = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - started


def _rapid_text(result: Any) -> str:
    return "\n".join(result.txts or ())


def engines(images: list[tuple[Any, str]], threads: int) -> None:
    import numpy as np
    from vecflow.pipeline.parse import ocr

    print("\n1. Engines on the same page images (CER: mean over pages; pages/s after one warm-up page)")
    print("| engine | CER | worst page | pages/s |\n|---|---:|---:|---:|")
    arrays = [np.asarray(ocr.prepare(image)) for image, _ in images]
    candidates: list[tuple[str, Callable[[Any], str]]] = []
    thread_params = {"EngineConfig.onnxruntime.intra_op_num_threads": threads} if threads else {}
    from rapidocr import RapidOCR

    ours = RapidOCR(params={**ocr._PARAMS, **thread_params})
    candidates.append(
        ("rapidocr 3.10.0 as vecflow sets it (PP-OCRv6, det 1280, no line classifier)", lambda a: _rapid_text(ours(a)))
    )
    default = RapidOCR(params={"Global.log_level": "error", **thread_params})
    candidates.append(
        ("rapidocr 3.10.0, its defaults (det at full size, line classifier)", lambda a: _rapid_text(default(a)))
    )
    try:
        from rapidocr_onnxruntime import RapidOCR as Legacy

        legacy = Legacy(**({"intra_op_num_threads": threads} if threads else {}))
        candidates.append(
            ("rapidocr-onnxruntime 1.4.4 (PP-OCRv4)", lambda a: "\n".join(line[1] for line in (legacy(a)[0] or [])))
        )
    except ImportError:
        print("(rapidocr-onnxruntime is not installed: pip install --no-deps rapidocr-onnxruntime==1.4.4 to compare)")
    for name, read in candidates:
        read(arrays[0])
        scores = []
        started = time.perf_counter()
        for array, (_, truth) in zip(arrays, images, strict=True):
            scores.append(cer(read(array), truth))
        elapsed = time.perf_counter() - started
        print(f"| {name} | {sum(scores) / len(scores):.2%} | {max(scores):.2%} | {len(arrays) / elapsed:.2f} |")


def pdf_images(images: list[tuple[Any, str]], tmp: Path) -> None:
    import pypdf
    import pypdfium2 as pdfium
    from PIL import Image
    from vecflow.pipeline.parse import ocr

    print("\n2. A scanned PDF page as the image OCR reads (same OCR; CER and seconds to get the image)")
    print("| page image | CER | ms per page to get it |\n|---|---:|---:|")
    path = tmp / "scans.pdf"
    path.write_bytes(image_pdf([image for image, _ in images]))
    truths = [truth for _, truth in images]

    def rendered() -> list[Any]:
        document = pdfium.PdfDocument(path)
        out = []
        for page in document:
            scale = ocr.MAX_SIDE / max(page.get_size())
            out.append(page.render(scale=scale, grayscale=True).to_pil().copy())
        return out

    def embedded() -> list[Any]:
        reader = pypdf.PdfReader(path)
        return [Image.open(io.BytesIO(page.images[0].data)).copy() for page in reader.pages]

    for name, get in (("rendered by pypdfium2 at 2000 px (vecflow)", rendered), ("embedded image, by pypdf", embedded)):
        got, seconds = _timed(get)
        scores = [
            cer(ocr.read_page(image, ocr.OcrOptions()).text, truth) for image, truth in zip(got, truths, strict=True)
        ]
        print(f"| {name} | {sum(scores) / len(scores):.2%} | {seconds / len(got) * 1000:.0f} |")


def paths(images: list[tuple[Any, str]], tmp: Path) -> None:
    import numpy as np
    import pypdfium2 as pdfium
    from vecflow.pipeline.parse import ocr, parse_document

    print("\n3. vecflow's paths against the engine alone, on the same pages (pages/s, best of 2 interleaved runs)")
    print("| path | pages/s | engine alone, pages/s | ratio | CER |\n|---|---:|---:|---:|---:|")
    engine = ocr._load(ocr.OcrOptions())
    pngs = []
    for number, (image, _) in enumerate(images):
        png = tmp / f"page{number}.png"
        image.save(png)
        pngs.append(png)
    pdf = tmp / "pages.pdf"
    pdf.write_bytes(image_pdf([image for image, _ in images]))
    truths = [truth for _, truth in images]
    # The engine alone on exactly what vecflow gives it: the decoded PNG, and the rendered PDF page.
    direct_png = [np.asarray(ocr.prepare(image)) for image, _ in images]
    document = pdfium.PdfDocument(pdf)
    direct_pdf = [
        np.asarray(page.render(scale=ocr.MAX_SIDE / max(page.get_size()), grayscale=True).to_pil()) for page in document
    ]

    def ours_png() -> list[str]:
        return [parse_document(p, "image/png", detect_language=False).text for p in pngs]

    def ours_pdf() -> list[str]:
        parsed = parse_document(pdf, "application/pdf", detect_language=False)
        return [parsed.text[s.char_start : s.char_end] for s in parsed.pages]

    for name, ours, direct in (("PNG file", ours_png, direct_png), ("image-only PDF", ours_pdf, direct_pdf)):
        runs = []  # interleaved, best of two each: the machine is shared
        for _ in range(2):
            texts, seconds = _timed(ours)
            _, alone = _timed(lambda direct=direct: [engine(a) for a in direct])
            runs.append((seconds, alone))
        seconds, alone = min(r[0] for r in runs), min(r[1] for r in runs)
        score = sum(cer(t, truth) for t, truth in zip(texts, truths, strict=True)) / len(truths)
        n = len(truths)
        print(f"| {name} | {n / seconds:.2f} | {n / alone:.2f} | {alone / seconds:.2f}× | {score:.2%} |")


def shared() -> None:
    from vecflow.pipeline.parse import parse_document

    if not (SHARED / "ocrmypdf_linn.pdf").exists():
        print(f"\n4. Shared scans: not found at {SHARED}")
        return
    print("\n4. The shared scans (../shared/data/docs), parsed as uploads are (ocr auto)")
    print(
        "| file | pages | characters | mean confidence | CER vs transcription | seconds |\n|---|---:|---:|---:|---:|---:|"
    )
    for name, truth_file in (("ocrmypdf_linn.pdf", "ocrmypdf_linn.txt"), ("ocrmypdf_c02-22.pdf", None)):
        document, seconds = _timed(lambda name=name: parse_document(SHARED / name, "application/pdf"))
        confidences = [p.ocr_confidence for p in document.pages if p.ocr_confidence is not None]
        score = cer(document.text, (SHARED / truth_file).read_text()) if truth_file else None
        shown = f"{score:.2%}" if score is not None else "—"
        mean = sum(confidences) / len(confidences) if confidences else 0.0
        print(f"| {name} | {len(document.pages)} | {len(document.text):,} | {mean:.3f} | {shown} | {seconds:.1f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="2 pages instead of 6")
    parser.add_argument("--threads", type=int, default=0, help="onnxruntime threads (0: all cores)")
    parser.add_argument("--pages", type=int, default=0, help="generated pages (default 6, 2 with --quick)")
    args = parser.parse_args()
    logging.disable(logging.WARNING)  # RapidOCR logs every model file it loads
    if args.threads:
        from vecflow.pipeline.parse import ocr

        ocr._PARAMS["EngineConfig.onnxruntime.intra_op_num_threads"] = args.threads
    count = args.pages or (2 if args.quick else 6)
    images = pages(count)
    print(f"{count} generated pages, 1240 × 1754 px; onnxruntime threads: {args.threads or 'all cores'}")
    engines(images, args.threads)
    with tempfile.TemporaryDirectory() as folder:
        pdf_images(images, Path(folder))
        paths(images, Path(folder))
    shared()


if __name__ == "__main__":
    main()
