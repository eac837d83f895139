"""PPTX (PowerPoint 2007+): one page per slide, its title a heading, text in reading order, tables, speaker notes.

Read by python-pptx. A slide's text is its title, then the text of its other shapes (text boxes, placeholders,
tables, groups, chart titles) ordered by position, top to bottom and then left to right, then its speaker
notes after a ``Notes:`` line. Tables are also kept as `Table`s.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from vecflow.pipeline.detect import PPTX
from vecflow.pipeline.parse.archive import ZIP_ERRORS, corrupt, open_package, refuse_ole
from vecflow.pipeline.parse.model import (
    UNSUPPORTED_TYPE,
    DocumentMetadata,
    Heading,
    PageSpan,
    ParsedDocument,
    ParseError,
    ParseLimits,
    Table,
    library,
    require_text,
    too_large,
)
from vecflow.pipeline.parse.text import clean, properties_metadata, shorten

_APP = "PowerPoint or LibreOffice Impress"


def _frame_text(frame: Any) -> str:
    """A text frame's paragraphs, one per line (soft line breaks too)."""
    lines = (paragraph.text.replace("\v", "\n") for paragraph in frame.paragraphs)
    return "\n".join(line.strip() for line in lines if line.strip())


def _position(shape: Any, inherited: dict[int, tuple[int, int]]) -> tuple[int, int]:
    """(top, left) of a shape. A placeholder without a position of its own has its layout's, looked up once
    per layout placeholder (python-pptx's inherited lookup costs more than the rest of the slide)."""
    if shape.is_placeholder:
        xfrm = shape._element.xfrm  # its own position, if it has one
        if xfrm is not None and xfrm.off is not None:
            return (xfrm.off.y, xfrm.off.x)
        idx = shape.placeholder_format.idx
        if idx not in inherited:
            inherited[idx] = (shape.top or 0, shape.left or 0)
        return inherited[idx]
    return (shape.top or 0, shape.left or 0)


def _table(shape: Any, tables: list[Table], slide_number: int) -> str:
    rows: list[list[str]] = []
    for row in shape.table.rows:
        cells = [" ".join(cell.text.split()) for cell in row.cells]
        if any(cells):
            rows.append(cells)
    if not rows:
        return ""
    tables.append(Table(header=rows[0], rows=rows[1:], source=f"pptx slide {slide_number} table {len(tables) + 1}"))
    return "\n".join(" | ".join(cells) for cells in rows)


def _shape_blocks(
    shapes: Iterable[Any], inherited: dict[int, tuple[int, int]], tables: list[Table], slide: int, *, top: bool
) -> tuple[str, list[str]]:
    """The slide's title (the placeholder of index 0, as python-pptx defines it; `top` level only) and the text
    blocks of the other shapes in reading order; a group is read as one unit in its place."""
    from pptx.enum.shapes import MSO_SHAPE_TYPE

    title = ""
    placed: list[tuple[tuple[int, int], Any]] = []
    for shape in shapes:
        if top and not title and shape.is_placeholder and shape.placeholder_format.idx == 0:
            title = " ".join(shape.text_frame.text.split()) if shape.has_text_frame else ""
            continue
        placed.append((_position(shape, inherited), shape))
    placed.sort(key=lambda item: item[0])
    blocks: list[str] = []
    for _, shape in placed:
        if shape.shape_type == MSO_SHAPE_TYPE.GROUP:
            blocks.extend(_shape_blocks(shape.shapes, inherited, tables, slide, top=False)[1])
        elif getattr(shape, "has_table", False) and shape.has_table:
            blocks.append(_table(shape, tables, slide))
        elif getattr(shape, "has_chart", False) and shape.has_chart:
            chart = shape.chart
            if chart.has_title and chart.chart_title.has_text_frame:
                blocks.append(_frame_text(chart.chart_title.text_frame))
        elif shape.has_text_frame:
            blocks.append(_frame_text(shape.text_frame))
    return title, [block for block in blocks if block]


def _notes(slide: Any) -> str:
    if not slide.has_notes_slide:
        return ""
    frame = slide.notes_slide.notes_text_frame
    return _frame_text(frame) if frame is not None else ""


def _metadata(presentation: Any) -> DocumentMetadata:
    props = presentation.core_properties
    return properties_metadata(props.title, props.author, props.created, props.modified, props.language)


def parse_pptx(path: Path, charset: str | None, limits: ParseLimits) -> ParsedDocument:
    refuse_ole(
        path,
        "PPTX",
        unlock="File > Info > Protect Presentation in PowerPoint",
        legacy="a legacy PowerPoint 97-2003 (.ppt) presentation",
    )
    names = open_package(path, "PPTX", _APP, limits)
    if "[Content_Types].xml" not in names:
        raise corrupt("PPTX", "the ZIP package has no presentation in it", _APP)

    import pptx
    from lxml import etree

    try:
        presentation = pptx.Presentation(str(path))
    except ValueError as exc:
        if "not a PowerPoint file" in str(exc):
            raise ParseError(
                UNSUPPORTED_TYPE,
                "The file is an Office package but not a PowerPoint presentation (perhaps a document or "
                "spreadsheet). Upload it with its own type, or convert it to PDF.",
            ) from exc
        raise corrupt("PPTX", str(exc), _APP) from exc
    except (*ZIP_ERRORS, etree.XMLSyntaxError) as exc:
        raise corrupt("PPTX", str(exc) or type(exc).__name__, _APP) from exc

    tables: list[Table] = []
    pages: list[PageSpan] = []
    headings: list[Heading] = []
    parts: list[str] = []
    length = 0
    try:
        layouts: dict[str, dict[int, tuple[int, int]]] = {}  # layout part → its placeholders' positions
        for number, slide in enumerate(presentation.slides, start=1):
            inherited = layouts.setdefault(str(slide.slide_layout.part.partname), {})
            title, blocks = _shape_blocks(slide.shapes, inherited, tables, number, top=True)
            blocks = ([title] if title else []) + blocks
            notes = _notes(slide)
            if notes:
                blocks.append(f"Notes:\n{notes}")
            text = clean("\n\n".join(blocks))
            start = length + (2 if parts else 0)
            if text:
                headings.append(Heading(1, shorten(title) if title else f"Slide {number}", start))
            parts.append(text)
            length = start + len(text)
            pages.append(PageSpan(number, start, length))
            if length > limits.max_characters:
                raise too_large("text", limits.max_characters, "characters", "VECFLOW_PARSE_MAX_CHARACTERS")
    except (*ZIP_ERRORS, etree.XMLSyntaxError) as exc:
        raise corrupt("PPTX", f"a slide cannot be read: {exc}", _APP) from exc

    text = require_text("\n\n".join(parts), "PPTX presentation")
    meta = _metadata(presentation)
    if meta.title is None and headings and headings[0].title != "Slide 1":
        meta.title = headings[0].title
    return ParsedDocument(
        text=text,
        content_type=PPTX,
        parser=library("python-pptx"),
        pages=pages,
        metadata=meta,
        tables=tables,
        headings=headings,
    )
