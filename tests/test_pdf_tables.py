"""PDF tables (vecflow.pipeline.parse.pdf_tables): ruled tables of text PDFs found by pdfplumber, kept in the
parse result and returned by ExtractParseResult. The PDFs are drawn here with reportlab."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from google.protobuf import json_format
from helpers.server import Server
from vecflow.pipeline.parse import ParseLimits, parse_document, pdf_tables
from vecflow_client import VecflowClient
from vecflow_client.v1 import job_pb2
from vecflow_client.v1 import knowledge_base_service_pb2 as kb_pb2
from vecflow_client.v1 import parse_service_pb2 as parse_pb2

reportlab = pytest.importorskip("reportlab", reason="reportlab (a dev dependency) draws the test PDFs")

SALES = [
    ["Region", "Q1 sales", "Q2 sales"],
    ["North", "1,200", "1,350"],
    ["South", "980", "1,105"],
    ["East", "1,410", "1,390"],
]
SHARED_PDF = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "docs" / "tika_testPDFVarious.pdf"


def pdf_with_tables(pages: int = 1, *, figure: bool = False) -> bytes:
    """A text PDF: per page a sentence, a ruled table (SALES, its region names numbered by page), a sentence;
    with `figure`, page 1 also has a boxed grid of single-digit axis labels (a drawing, not a table)."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.platypus import PageBreak, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    style = getSampleStyleSheet()["Normal"]
    grid = TableStyle([("GRID", (0, 0), (-1, -1), 0.5, colors.black)])
    story: list[object] = []
    for page in range(1, pages + 1):
        if page > 1:
            story.append(PageBreak())
        story.append(Paragraph(f"Quarterly sales by region, page {page}, as reported by the finance team.", style))
        story.append(Spacer(1, 12))
        data = [SALES[0]] + [[f"{row[0]} {page}" if page > 1 else row[0], *row[1:]] for row in SALES[1:]]
        story.append(Table(data, style=grid))
        story.append(Spacer(1, 12))
        story.append(Paragraph("Figures are in thousands of euros.", style))
        if figure and page == 1:
            story.append(Spacer(1, 24))
            story.append(Table([["0", "", "1"], ["", "x", ""], ["2", "", "3"]], style=grid))
    buffer = io.BytesIO()
    SimpleDocTemplate(buffer, pagesize=A4).build(story)
    return buffer.getvalue()


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_a_ruled_table_is_recovered_with_its_header_and_rows(tmp_path: Path) -> None:
    doc = parse_document(write(tmp_path, "sales.pdf", pdf_with_tables(figure=True)), "application/pdf")
    assert len(doc.tables) == 1, doc.tables  # the boxed axis labels of the figure are no table
    (table,) = doc.tables
    assert table.source == "pdf page 1 table 1"
    assert table.header == SALES[0]
    assert table.rows == SALES[1:]
    assert doc.parser.startswith("pypdf ") and "pdfplumber" in doc.parser
    assert "Quarterly sales by region" in doc.text and "1,410" in doc.text  # the text is pypdf's, as before


def test_tables_are_numbered_by_page(tmp_path: Path) -> None:
    doc = parse_document(write(tmp_path, "three.pdf", pdf_with_tables(pages=3)), "application/pdf")
    assert [t.source for t in doc.tables] == [f"pdf page {n} table 1" for n in (1, 2, 3)]
    assert doc.tables[2].rows[0] == ["North 3", "1,200", "1,350"]


def test_a_pdf_without_ruled_tables_has_none(tmp_path: Path) -> None:
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    buffer = io.BytesIO()
    page = canvas.Canvas(buffer, pagesize=A4)
    for line, text in enumerate(["Name    Age", "Ada     36", "Grace   45"]):  # columns of text, no lines
        page.drawString(72, 720 - 14 * line, text)
    page.save()
    doc = parse_document(write(tmp_path, "plain.pdf", buffer.getvalue()), "application/pdf")
    assert doc.tables == [] and doc.parser.startswith("pypdf ") and "pdfplumber" not in doc.parser


def test_the_search_stops_at_the_page_limit_with_a_note(tmp_path: Path) -> None:
    path = write(tmp_path, "long.pdf", pdf_with_tables(pages=4))
    doc = parse_document(path, "application/pdf", limits=ParseLimits(max_table_pages=2))
    assert [t.source for t in doc.tables] == ["pdf page 1 table 1", "pdf page 2 table 1"]
    assert "tables: pdfplumber" in doc.parser and "to page 2 of 4 (limit of 2 pages)" in doc.parser
    assert len(doc.pages) == 4 and "North 4" in doc.text  # the text of every page is still there
    off = parse_document(path, "application/pdf", limits=ParseLimits(max_table_pages=0))
    assert off.tables == [] and off.parser.startswith("pypdf ") and "pdfplumber" not in off.parser
    assert off.text == doc.text


def test_the_cell_limit_keeps_the_tables_before_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pdf_tables, "MAX_CELLS", 30)  # each table has 12 cells
    doc = parse_document(write(tmp_path, "cells.pdf", pdf_with_tables(pages=3)), "application/pdf")
    assert len(doc.tables) == 2 and "limit of 30 cells" in doc.parser


def test_the_shared_pdf_table() -> None:
    if not SHARED_PDF.exists():
        pytest.skip(f"shared document corpus not found at {SHARED_PDF.parent} (it lives beside the checkout)")
    doc = parse_document(SHARED_PDF, "application/pdf")
    assert [t.source for t in doc.tables] == ["pdf page 1 table 1"]
    assert doc.tables[0].header == ["Row 1 Col 1", "Row 1 Col 2", "Row 1 Col 3"]
    assert doc.tables[0].rows == [["Row 2 Col 1", "Row 2 Col 2", "Row 2 Col 3"]]


async def test_extract_parse_result_returns_the_pdf_tables(server: Server) -> None:
    stubs = server.stubs()
    kb = (await stubs.kbs.CreateKnowledgeBase(kb_pb2.CreateKnowledgeBaseRequest(name="reports"))).knowledge_base

    async def messages():  # type: ignore[no-untyped-def]
        yield kb_pb2.UploadFileRequest(metadata=kb_pb2.UploadFileMetadata(kb_id=kb.id, name="sales.pdf"))
        yield kb_pb2.UploadFileRequest(chunk=pdf_with_tables(pages=2))

    uploaded = await stubs.kbs.UploadFile(messages())
    async with VecflowClient(server.address, server.key.secret) as client:
        parsed = await client.wait_job(uploaded.parse_job.id)
        assert parsed.status == job_pb2.JOB_STATUS_SUCCEEDED, parsed.error
        file = (await stubs.kbs.GetFile(kb_pb2.GetFileRequest(file_id=uploaded.file.id))).file
        result = (
            await stubs.parse.GetParseResult(parse_pb2.GetParseResultRequest(parse_result_id=file.parse_result_id))
        ).parse_result
        assert "pdfplumber" in result.parser
        reply = await stubs.parse.ExtractParseResult(
            parse_pb2.ExtractParseResultRequest(parse_result_id=file.parse_result_id)
        )
        job = await client.wait_job(reply.job.id)
    assert job.status == job_pb2.JOB_STATUS_SUCCEEDED, job.error
    data = json_format.MessageToDict(job.result)
    assert data["table_count"] == 2
    first, second = data["tables"]
    assert first == {"source": "pdf page 1 table 1", "header": SALES[0], "rows": SALES[1:], "row_count": 3}
    assert second["source"] == "pdf page 2 table 1" and second["rows"][0] == ["North 2", "1,200", "1,350"]
