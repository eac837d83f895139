"""What PDF table extraction costs: pages/s of vecflow's PDF parser with and without the table search
(pipeline/parse/pdf_tables.py), beside pdfplumber's own table search called directly on the same files.

Files: the text PDFs of ../shared/data/docs, and two generated ones (reportlab): 200 pages each holding a ruled
table, and a valid 100,000-page PDF (one text line a page) that the page limit cuts short. One core, best of
`--repeat` runs.

    ../.venv/bin/python pdf_tables.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "server"), str(ROOT / "tests")]

from vecflow.pipeline.parse import pdf as pdf_module  # noqa: E402
from vecflow.pipeline.parse.model import ParseLimits  # noqa: E402

DOCS = ROOT.parent / "shared" / "data" / "docs"
SHARED = ["debian_libtasn1.pdf", "pypdf_GeoTopo-komprimiert.pdf", "tika_testPDFVarious.pdf", "pypdf_multicolumn.pdf"]


def table_pages(path: Path, pages: int) -> None:
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.platypus import PageBreak, Paragraph, SimpleDocTemplate, Table, TableStyle

    style = getSampleStyleSheet()["Normal"]
    story: list[Any] = []
    for page in range(pages):
        story.append(Paragraph(f"Stock on page {page + 1}, counted at the end of the month by the warehouse.", style))
        rows = [["Item", "Count", "Value"]] + [[f"part {page}-{r}", str(r * 7), f"{r * 3.5:.2f}"] for r in range(12)]
        story.append(Table(rows, style=TableStyle([("GRID", (0, 0), (-1, -1), 0.5, colors.black)])))
        story.append(PageBreak())
    SimpleDocTemplate(str(path), pagesize=A4).build(story)


def best(run: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - started)
    return min(times), result


def plumber_alone(path: Path, pages: int) -> int:
    import pdfplumber

    found = 0
    with pdfplumber.open(path, pages=list(range(1, pages + 1))) as pdf:
        for page in pdf.pages:
            found += len(page.extract_tables({"vertical_strategy": "lines", "horizontal_strategy": "lines"}))
            page.close()
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    logging.disable(logging.WARNING)  # pdfminer warns about every font it cannot fully read
    try:
        import os

        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core
    except (AttributeError, OSError):
        pass
    limits = ParseLimits()
    real_find_tables = pdf_module.find_tables
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        files = [DOCS / name for name in SHARED if (DOCS / name).exists()]
        generated = tmp / "200-tables.pdf"
        table_pages(generated, 200)
        files.append(generated)
        from helpers.hostile_files import pdf_pages

        big = tmp / "100000-pages.pdf"
        big.write_bytes(pdf_pages(100_000))
        files.append(big)
        print(
            f"{'file':34} {'pages':>7} {'text only p/s':>14} {'with tables p/s':>16} {'ratio':>6} "
            f"{'pdfplumber alone p/s':>21} {'tables':>7}  parser"
        )
        for path in files:
            repeat = 1 if path is big else args.repeat
            pdf_module.find_tables = lambda path, texts, parser, max_pages: ([], parser)  # type: ignore[assignment]
            plain_s, _ = best(lambda path=path: pdf_module.parse_pdf(path, None, limits), repeat)
            pdf_module.find_tables = real_find_tables
            tables_s, doc = best(lambda path=path: pdf_module.parse_pdf(path, None, limits), repeat)
            pages = len(doc.pages)
            searched = min(pages, limits.max_table_pages)
            alone_s, _ = best(lambda path=path, searched=searched: plumber_alone(path, searched), repeat)
            print(
                f"{path.name[:34]:34} {pages:>7,} {pages / plain_s:>14.1f} {pages / tables_s:>16.1f} "
                f"{plain_s / tables_s:>6.2f} {searched / alone_s:>21.1f} {len(doc.tables):>7}  {doc.parser}"
            )


if __name__ == "__main__":
    main()
