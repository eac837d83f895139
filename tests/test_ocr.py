"""OCR: images (PNG, JPEG, multi-page TIFF, WebP, GIF) and PDF pages without a text layer, read by RapidOCR.

Fixtures are generated: text rendered with Pillow's bundled font, with a scanner's skew, blur and grain
(tests/helpers/ocr_pages.py), checked by character error rate (CER) against the text that was drawn. OCR is
slow on two cores, so the pages are small and each test reads as few as it can.
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
from helpers.ocr_pages import cer, image_pdf, mixed_pdf, render_page, text_pdf_page
from helpers.server import Server, start_server
from PIL import Image
from test_pipeline import upload, wait
from vecflow.pipeline.detect import GIF, JPEG, PDF, PNG, TIFF, WEBP, detect_type
from vecflow.pipeline.parse import (
    CORRUPT_FILE,
    DOCUMENT_TOO_LARGE,
    NO_TEXT_LAYER,
    OcrOptions,
    ParseError,
    ParseLimits,
    parse_document,
)
from vecflow.pipeline.parse.ocr_layout import TextBox, page_text
from vecflow_client.v1 import common_pb2, job_pb2
from vecflow_client.v1 import knowledge_base_service_pb2 as kb_pb2
from vecflow_client.v1 import parse_service_pb2 as parse_pb2
from vecflow_client.v1 import vector_store_service_pb2 as vs_pb2

ONE = (
    "Invoices are payable within 30 days of receipt. Late payments accrue interest at 1.5% per month, "
    "and deliveries may stop after a written reminder."
)
TWO = "Section 4.2 covers termination: either party may end this agreement with 90 days' notice."
MAX_CER = 0.05


def _page(text: str, seed: int = 0) -> tuple[Image.Image, str]:
    return render_page([text], width=1000, height=260, margin=40, seed=seed)


@pytest.fixture(scope="module")
def scans() -> list[tuple[Image.Image, str]]:
    return [_page(ONE, 1), _page(TWO, 2)]


def _error(path: Path, content_type: str, **options: object) -> ParseError:
    with pytest.raises(ParseError) as info:
        parse_document(path, content_type, **options)  # type: ignore[arg-type]
    assert info.value.message.endswith("."), info.value.message
    return info.value


def _detected(path: Path) -> str:
    return detect_type(path.read_bytes()[:65536], path.name)


def test_image_formats_are_read_with_a_low_error_rate(scans: list[tuple[Image.Image, str]], tmp_path: Path) -> None:
    (image, truth), (second, second_truth) = scans
    files = {
        "scan.png": (PNG, {}),
        "scan.jpg": (JPEG, {"quality": 85}),
        "scan.webp": (WEBP, {"quality": 90}),
        "scan.gif": (GIF, {}),
    }
    for name, (media_type, options) in files.items():
        path = tmp_path / name
        image.save(path, **options)
        assert _detected(path) == media_type
        document = parse_document(path, media_type)
        assert document.content_type == media_type and document.parser.startswith("rapidocr ")
        assert cer(document.text, truth) < MAX_CER, (name, document.text)
        (page,) = document.pages
        assert page.ocr_confidence is not None and 0.8 < page.ocr_confidence <= 1.0
    # A multi-page TIFF: one page per frame, in order, each with its confidence; progress after each page.
    tiff = tmp_path / "fax.tiff"
    image.save(tiff, save_all=True, append_images=[second], compression="tiff_deflate")
    assert _detected(tiff) == TIFF
    seen: list[tuple[int, int, int]] = []
    document = parse_document(
        tiff, TIFF, ocr=OcrOptions(progress=lambda page, done, total, _c: seen.append((page, done, total)))
    )
    assert seen == [(1, 1, 2), (2, 2, 2)]
    assert [p.number for p in document.pages] == [1, 2] and document.metadata.page_count == 2
    first, last = (document.text[p.char_start : p.char_end] for p in document.pages)
    assert cer(first, truth) < MAX_CER and cer(last, second_truth) < MAX_CER
    assert all(p.ocr_confidence for p in document.pages)


def test_scanned_and_mixed_pdfs(scans: list[tuple[Image.Image, str]], tmp_path: Path) -> None:
    (image, truth), _ = scans
    scanned = tmp_path / "scanned.pdf"
    scanned.write_bytes(image_pdf([image]))
    document = parse_document(scanned, PDF)
    assert cer(document.text, truth) < MAX_CER, document.text
    assert "rapidocr" in document.parser and document.pages[0].ocr_confidence

    # Page 1 keeps its text layer (no OCR), page 2 (scanned) is read by OCR.
    layer = "Quarterly report, page one: revenue rose by 12 percent."
    mixed = tmp_path / "mixed.pdf"
    mixed.write_bytes(mixed_pdf(layer, image))
    document = parse_document(mixed, PDF)
    one, two = document.pages
    assert document.text[one.char_start : one.char_end] == layer and one.ocr_confidence is None
    assert cer(document.text[two.char_start : two.char_end], truth) < MAX_CER and two.ocr_confidence

    # ocr=off: today's behaviour, no text from the scanned page, and a scanned-only PDF fails.
    off = parse_document(mixed, PDF, ocr="off")
    assert off.text.strip() == layer and all(p.ocr_confidence is None for p in off.pages)
    error = _error(scanned, PDF, ocr="off")
    assert error.code == NO_TEXT_LAYER and "OCR is off" in error.message


def test_pages_scanned_the_wrong_way_round(scans: list[tuple[Image.Image, str]], tmp_path: Path) -> None:
    (image, truth), _ = scans
    for name, turn in (("upside-down", Image.Transpose.ROTATE_180), ("on-its-side", Image.Transpose.ROTATE_90)):
        path = tmp_path / f"{name}.png"
        image.transpose(turn).save(path)
        document = parse_document(path, PNG)
        assert cer(document.text, truth) < MAX_CER, (name, document.text)


def test_force_reads_pages_that_have_a_text_layer(tmp_path: Path) -> None:
    layer = "Force mode reads this page with OCR\neven though it has a text layer."
    path = tmp_path / "layer.pdf"
    path.write_bytes(text_pdf_page(layer))
    assert parse_document(path, PDF).pages[0].ocr_confidence is None  # auto: the text layer is enough
    document = parse_document(path, PDF, ocr="force")
    assert document.pages[0].ocr_confidence is not None
    assert cer(document.text, layer) < MAX_CER, document.text


def test_images_refused_blank_damaged_and_too_large(scans: list[tuple[Image.Image, str]], tmp_path: Path) -> None:
    (image, _), (second, _) = scans
    png = tmp_path / "scan.png"
    image.save(png)
    error = _error(png, PNG, ocr="off")
    assert error.code == NO_TEXT_LAYER and "OCR" in error.message and "auto" in error.message

    blank = tmp_path / "blank.png"
    Image.new("L", (600, 400), 255).save(blank)
    error = _error(blank, PNG)
    assert error.code == NO_TEXT_LAYER and "no legible text" in error.message

    truncated = tmp_path / "truncated.png"
    truncated.write_bytes(png.read_bytes()[:2000])
    assert _error(truncated, PNG).code == CORRUPT_FILE
    not_an_image = tmp_path / "fake.jpg"
    not_an_image.write_bytes(b"\xff\xd8\xff" + b"definitely not a JPEG" * 20)
    assert _error(not_an_image, JPEG).code == CORRUPT_FILE

    # Decompression bombs, refused before their pixels are decoded: one between Pillow's warning and error
    # thresholds (our own check) and one past its error threshold.
    for size in ((10_000, 9_000), (14_000, 14_000)):
        bomb = tmp_path / f"bomb-{size[0]}.png"
        Image.new("1", size, 1).save(bomb, optimize=True)
        assert bomb.stat().st_size < 2_000_000
        error = _error(bomb, PNG)
        assert error.code == DOCUMENT_TOO_LARGE and "pixels" in error.message

    # The page limit ends the parse before any page is read, naming the setting.
    tiff = tmp_path / "three.tiff"
    image.save(tiff, save_all=True, append_images=[second, second])
    error = _error(tiff, TIFF, limits=ParseLimits(max_ocr_pages=2))
    assert error.code == DOCUMENT_TOO_LARGE and "VECFLOW_OCR_MAX_PAGES" in error.message
    pdf = tmp_path / "three.pdf"
    pdf.write_bytes(image_pdf([image, second, second]))
    error = _error(pdf, PDF, limits=ParseLimits(max_ocr_pages=2))
    assert error.code == DOCUMENT_TOO_LARGE and "3 pages that need OCR" in error.message


def test_reading_order_follows_columns() -> None:
    """Two columns of prose under a full-width title and above a full-width footer: column by column."""

    def line(x: float, y: float, text: str, width: float = 400) -> TextBox:
        return TextBox(x, y, x + width, y + 20, text, 0.99)

    left = [line(50, 100 + 24 * i, f"left {i} of the first column's running text") for i in range(5)]
    right = [line(500, 112 + 24 * i, f"right {i} of the second column's running text") for i in range(4)]
    boxes = [
        line(50, 40, "A title across the page", 850),
        *right,
        *left,
        line(50, 300, "A footer across the page, after the columns", 850),
    ]
    text = page_text(boxes)
    order = [text.index(b.text) for b in [boxes[0], *left, *right, boxes[-1]]]
    assert order == sorted(order), text
    # A table-like grid (short cells) is read row by row, not column by column.
    cells = [
        TextBox(50 + 300 * c, 100 + 30 * r, 130 + 300 * c, 120 + 30 * r, f"r{r}c{c}", 0.9)
        for r in range(4)
        for c in range(2)
    ]
    assert page_text(cells).split("\n")[:2] == ["r0c0 r0c1", "r1c0 r1c1"]


# --------------------------------------------------------------------------- through the API


@pytest.fixture
async def srv(tmp_path: Path, sqlite_url: str) -> AsyncIterator[Server]:
    server = await start_server(tmp_path, sqlite_url, parse_workers=1)  # one worker: the one that keeps the engine
    try:
        yield server
    finally:
        await server.close()


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


async def test_upload_a_png_then_search_its_text(srv: Server, scans: list[tuple[Image.Image, str]]) -> None:
    (image, truth), (second, _) = scans
    stubs = srv.stubs()
    kb = (await stubs.kbs.CreateKnowledgeBase(kb_pb2.CreateKnowledgeBaseRequest(name="scans"))).knowledge_base
    assert kb.ocr == common_pb2.OCR_MODE_AUTO
    reply = await upload(stubs, kb.id, "invoice.png", _png(image))
    assert reply.file.content_type == PNG and reply.file.parse_state == kb_pb2.PARSE_STATE_PENDING
    job = await wait(srv, reply.parse_job.id)
    assert job.status == job_pb2.JOB_STATUS_SUCCEEDED, job.error
    progress = [e for e in job.history if e.step == "parse" and e.status == job_pb2.STEP_STATUS_PROGRESS]
    assert [(e.details["ocr_page"], e.details["ocr_pages_done"], e.details["ocr_pages_total"]) for e in progress] == [
        (1, 1, 1)
    ]
    parse_step = next(e for e in job.history if e.step == "parse" and e.status == job_pb2.STEP_STATUS_SUCCEEDED)
    assert parse_step.details["ocr"] == "auto" and parse_step.details["ocr_pages"] == 1
    file = (await stubs.kbs.GetFile(kb_pb2.GetFileRequest(file_id=reply.file.id))).file
    result = (
        await stubs.parse.GetParseResult(parse_pb2.GetParseResultRequest(parse_result_id=file.parse_result_id))
    ).parse_result
    assert result.ocr_pages == 1 and result.parser.startswith("rapidocr") and cer(result.text_preview, truth) < MAX_CER
    worker = srv.app.parser._idle[0].process.pid  # the engine stays loaded in the worker that read the page

    store = (await stubs.stores.CreateVectorStore(vs_pb2.CreateVectorStoreRequest(name="scans"))).vector_store
    batch = (
        await stubs.stores.CreateFileBatch(vs_pb2.CreateFileBatchRequest(vector_store_id=store.id, file_ids=[file.id]))
    ).file_batch
    assert (await wait(srv, batch.job_id)).status == job_pb2.JOB_STATUS_SUCCEEDED
    hits = (
        await stubs.stores.SearchVectorStore(
            vs_pb2.SearchVectorStoreRequest(vector_store_id=store.id, query="when are invoices payable")
        )
    ).hits
    assert hits and hits[0].file_id == file.id and "30 days" in hits[0].text

    # A knowledge base with OCR off: an image fails with the reason; ParseFile with OCR on reads it, in the
    # same worker as before (the engine was loaded once).
    off = (
        await stubs.kbs.CreateKnowledgeBase(
            kb_pb2.CreateKnowledgeBaseRequest(name="no-ocr", ocr=common_pb2.OCR_MODE_OFF)
        )
    ).knowledge_base
    assert off.ocr == common_pb2.OCR_MODE_OFF
    refused = await upload(stubs, off.id, "page.png", _png(second))
    job = await wait(srv, refused.parse_job.id)
    assert job.status == job_pb2.JOB_STATUS_FAILED and job.error.code == NO_TEXT_LAYER and "OCR" in job.error.message
    again = await stubs.parse.ParseFile(
        parse_pb2.ParseFileRequest(
            file_id=refused.file.id, options=parse_pb2.ParseOptions(ocr=common_pb2.OCR_MODE_AUTO)
        )
    )
    job = await wait(srv, again.job.id)
    assert job.status == job_pb2.JOB_STATUS_SUCCEEDED, job.error
    assert srv.app.parser._idle[0].process.pid == worker
    # The upload's own setting wins over its knowledge base's, and is shown on the file.
    own = await upload(stubs, off.id, "own.png", _png(second), ocr=common_pb2.OCR_MODE_FORCE)
    assert own.file.ocr == common_pb2.OCR_MODE_FORCE
    assert (await wait(srv, own.parse_job.id)).status == job_pb2.JOB_STATUS_SUCCEEDED

    # An unknown mode is the caller's mistake.
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stubs.kbs.CreateKnowledgeBase(kb_pb2.CreateKnowledgeBaseRequest(name="bad", ocr=9))  # type: ignore[arg-type]
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "ocr" in err.value.details()
