"""DOCX (Word 2007+): body, notes, headers and footers, tables, headings (Title, Heading 1–9 and outline levels)
and core properties, read by python-docx."""

from __future__ import annotations

import re
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from vecflow.pipeline.detect import DOCX
from vecflow.pipeline.parse.archive import OLE_MAGIC, measure, ole_contains
from vecflow.pipeline.parse.model import (
    CORRUPT_FILE,
    ENCRYPTED_DOCUMENT,
    UNSUPPORTED_TYPE,
    DocumentMetadata,
    Heading,
    ParsedDocument,
    ParseError,
    ParseLimits,
    Table,
    library,
    require_text,
    whole,
)
from vecflow.pipeline.parse.text import clean, properties_metadata, shorten

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_MC = "{http://schemas.openxmlformats.org/markup-compatibility/2006}"
_W_P, _W_TBL, _W_TR, _W_TC = _W + "p", _W + "tbl", _W + "tr", _W + "tc"
_W_T, _W_TAB, _W_BR, _W_CR = _W + "t", _W + "tab", _W + "br", _W + "cr"
_W_SDT, _W_SDT_CONTENT, _W_CUSTOM_XML = _W + "sdt", _W + "sdtContent", _W + "customXml"
_W_TXBX, _W_GRID_SPAN, _W_VAL = _W + "txbxContent", _W + "gridSpan", _W + "val"
_MC_ALTERNATE, _MC_CHOICE, _MC_FALLBACK = _MC + "AlternateContent", _MC + "Choice", _MC + "Fallback"
# Never text: properties, deleted text, field instructions, and text boxes (walked as blocks of their own).
_W_SKIP = frozenset(
    {_W + "pPr", _W + "rPr", _W + "tblPr", _W + "trPr", _W + "tcPr", _W + "delText", _W + "instrText", _W_TXBX}
)
_W_PSTYLE, _W_OUTLINE = f"{_W}pPr/{_W}pStyle", f"{_W}pPr/{_W}outlineLvl"
_HEADING_STYLE = re.compile(r"heading ([1-9])")


def _corrupt_docx(detail: str) -> ParseError:
    return ParseError(
        CORRUPT_FILE,
        f"The DOCX file is damaged or truncated ({detail}). Open it in Word or LibreOffice, save it again, "
        "and upload the new copy.",
    )


class _DocxWalker:
    """Collects text blocks and tables from WordprocessingML elements, in document order."""

    def __init__(self, tables: list[Table], heading_styles: dict[str, int] | None = None) -> None:
        self.blocks: list[str] = []
        self.tables = tables
        self.heading_styles = heading_styles  # paragraph style id -> heading level; None: headings not wanted
        self.headings: list[tuple[int, str, int]] = []  # (level, text, index in blocks) of heading paragraphs

    def container(self, element: Any) -> None:
        for child in element:
            tag = child.tag
            if tag == _W_P:
                self.paragraph(child)
            elif tag == _W_TBL:
                self.table(child)
            elif tag == _W_SDT:
                content = child.find(_W_SDT_CONTENT)
                if content is not None:
                    self.container(content)
            elif tag == _W_CUSTOM_XML:
                self.container(child)
            elif tag == _MC_ALTERNATE:
                chosen = child.find(_MC_CHOICE)
                if chosen is None:
                    chosen = child.find(_MC_FALLBACK)
                if chosen is not None:
                    self.container(chosen)

    def paragraph(self, p: Any) -> None:
        pieces: list[str] = []
        boxes: list[Any] = []
        _inline_text(p, pieces, boxes)
        text = "".join(pieces).strip()
        if text:
            if self.heading_styles is not None:
                level = _paragraph_level(p, self.heading_styles)
                if level:
                    self.headings.append((level, text, len(self.blocks)))
            self.blocks.append(text)
        for box in boxes:
            self.container(box)

    def table(self, tbl: Any) -> None:
        rows: list[list[str]] = []
        lines: list[str] = []
        for tr in _children(tbl, _W_TR):
            cells: list[str] = []
            shown: list[str] = []
            for tc in _children(tr, _W_TC):
                inner = _DocxWalker([])
                inner.container(tc)
                text = " ".join(" ".join(inner.blocks).split())
                cells.append(text)
                shown.append(text)
                span = tc.find(f"{_W}tcPr/{_W_GRID_SPAN}")
                if span is not None and (span.get(_W_VAL) or "").isdigit():
                    cells.extend([""] * (int(span.get(_W_VAL)) - 1))
            if any(cells):
                rows.append(cells)
                lines.append(" | ".join(shown))
        if not rows:
            return
        self.tables.append(Table(header=rows[0], rows=rows[1:], source=f"docx table {len(self.tables) + 1}"))
        self.blocks.append("\n".join(lines))


def _children(element: Any, tag: str) -> Iterator[Any]:
    """Direct children with `tag`, looking through content controls (w:sdt) that wrap rows or cells."""
    for child in element:
        if child.tag == tag:
            yield child
        elif child.tag == _W_SDT:
            content = child.find(_W_SDT_CONTENT)
            if content is not None:
                yield from _children(content, tag)


def _inline_text(element: Any, pieces: list[str], boxes: list[Any]) -> None:
    for child in element:
        tag = child.tag
        if tag == _W_T:
            pieces.append(child.text or "")
        elif tag == _W_TAB:
            pieces.append("\t")
        elif tag in (_W_BR, _W_CR):
            pieces.append("\n")
        elif tag == _W + "noBreakHyphen":
            pieces.append("-")
        elif tag == _W_TXBX:
            boxes.append(child)
        elif tag in _W_SKIP or tag == _MC_FALLBACK or not isinstance(tag, str):
            continue
        else:
            _inline_text(child, pieces, boxes)


def _xml_root(part: Any) -> Any:
    element = getattr(part, "element", None)
    if element is not None:
        return element
    from lxml import etree

    parser = etree.XMLParser(resolve_entities=False, no_network=True, remove_comments=True)
    return etree.fromstring(part.blob, parser)


def _outline_level(element: Any) -> int:
    """1 + the outline level (w:outlineLvl 0–8) set on a paragraph or style element; 0 for none or body text."""
    found = element.find(_W_OUTLINE)
    value = found.get(_W_VAL) if found is not None else None
    return int(value) + 1 if value is not None and value.isdigit() and int(value) < 9 else 0


def _heading_styles(document: Any) -> dict[str, int]:
    """Paragraph style id -> heading level: Title 1, Heading N N, else an outline level of the style or of the
    style it is based on (a custom heading style)."""
    levels: dict[str, int] = {}
    try:
        styles = list(document.styles)
    except (KeyError, ValueError, AttributeError):
        return levels
    for style in styles:
        try:
            if style.type != 1 or not style.style_id:  # WD_STYLE_TYPE.PARAGRAPH
                continue
            current, level = style, 0
            for _ in range(10):  # based-on chains are short; a cycle must not hang us
                name = (current.name or "").lower()
                matched = _HEADING_STYLE.fullmatch(name)
                level = 1 if name == "title" else int(matched.group(1)) if matched else _outline_level(current.element)
                current = current.base_style
                if level or current is None:
                    break
        except (KeyError, ValueError, AttributeError):
            continue
        if level:
            levels[style.style_id] = level
    return levels


def _paragraph_level(p: Any, heading_styles: dict[str, int]) -> int:
    """The heading level of paragraph `p` (its own outline level, else its style's); 0 when it is no heading."""
    own = _outline_level(p)
    if own:
        return own
    style = p.find(_W_PSTYLE)
    return heading_styles.get(style.get(_W_VAL) or "", 0) if style is not None else 0


def _locate_headings(text: str, blocks: list[str], found: list[tuple[int, str, int]]) -> list[Heading]:
    """Headings at their paragraphs in `text`, which is ``clean("\n\n".join(blocks + more))``: a heading's offset
    is the cleaned length of the blocks before it (cleaned piece by piece between sentinels, so that `clean`
    strips nothing inside), less the whitespace the whole text lost at its start."""
    headings: list[Heading] = []
    done = 0  # blocks measured so far
    cleaned = 0  # their cleaned length, separators included
    lead: int | None = None  # whitespace `clean` strips at the start of the text
    for level, raw_title, index in found:
        if index > done:
            piece = clean("|" + "\n\n".join(blocks[done:index]) + "\n\n|")[1:-1]
            if lead is None:
                lead = len(piece) - len(piece.lstrip())
            cleaned += len(piece)
            done = index
        elif lead is None:
            lead = 0
        at = cleaned - lead
        title = clean(raw_title)
        if title and text.startswith(title, at):
            headings.append(Heading(level, " ".join(title.split()), at))
    return headings


def _docx_title_paragraph(document: Any) -> str | None:
    """The first paragraph styled Title (or else Heading 1) near the top, for documents without a title property."""
    found: dict[str, str] = {}
    for paragraph in document.paragraphs[:100]:
        try:
            style = (paragraph.style.name or "").lower() if paragraph.style is not None else ""
        except (KeyError, ValueError):
            continue
        text = paragraph.text.strip()
        if text and style in ("title", "heading 1") and style not in found:
            found[style] = shorten(text)
    return found.get("title") or found.get("heading 1")


def parse_docx(path: Path, charset: str | None, limits: ParseLimits) -> ParsedDocument:
    with path.open("rb") as fp:
        magic = fp.read(8)
    if magic == OLE_MAGIC:
        if ole_contains(path, "EncryptedPackage", "EncryptionInfo"):
            raise ParseError(
                ENCRYPTED_DOCUMENT,
                "The DOCX file is password-protected. Open it in Word, remove the password "
                "(File > Info > Protect Document), save it, and upload it again.",
            )
        raise ParseError(
            UNSUPPORTED_TYPE,
            "The file is a legacy Word 97-2003 (.doc) or other OLE document, not DOCX. "
            "Save it as .docx (Word Document) and upload it again.",
        )
    if not zipfile.is_zipfile(path):
        raise _corrupt_docx("it is not a readable ZIP package")
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            if "word/document.xml" not in names and "[Content_Types].xml" not in names:
                raise _corrupt_docx("the ZIP package has no Word document in it")
            measure(archive, limits.max_expanded_bytes, "DOCX")
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, zlib.error, NotImplementedError) as exc:
        raise _corrupt_docx(f"the ZIP package cannot be read: {exc}") from exc

    import docx
    from docx.opc.constants import RELATIONSHIP_TYPE as RT
    from docx.opc.exceptions import PackageNotFoundError
    from lxml import etree

    try:
        document = docx.Document(str(path))
    except ValueError as exc:
        if "not a Word file" in str(exc):
            raise ParseError(
                UNSUPPORTED_TYPE,
                "The file is an Office package but not a Word document (perhaps a spreadsheet or "
                "presentation). Upload it as a Word .docx document, or convert it to PDF.",
            ) from exc
        raise _corrupt_docx(str(exc)) from exc
    except (PackageNotFoundError, KeyError, zipfile.BadZipFile, zlib.error, EOFError, etree.XMLSyntaxError) as exc:
        raise _corrupt_docx(str(exc) or type(exc).__name__) from exc

    tables: list[Table] = []
    body = _DocxWalker(tables, _heading_styles(document))
    body.container(document.element.body)
    extra: list[str] = []
    try:
        related = sorted(
            (rel for rel in document.part.rels.values() if not rel.is_external),
            key=lambda rel: (len(rel.rId), rel.rId),
        )
        notes = [r for r in related if r.reltype in (RT.FOOTNOTES, RT.ENDNOTES)]
        margins = [r for r in related if r.reltype in (RT.HEADER, RT.FOOTER)]
        for rel in notes + margins:
            root = _xml_root(rel.target_part)
            walker = _DocxWalker(tables)
            if rel.reltype in (RT.FOOTNOTES, RT.ENDNOTES):
                for note in root:
                    if note.get(_W + "type") in (None, "normal"):
                        walker.container(note)
            else:
                walker.container(root)
            for block in walker.blocks:
                if block not in extra:
                    extra.append(block)
    except (etree.XMLSyntaxError, KeyError, ValueError) as exc:
        raise _corrupt_docx(f"a notes, header or footer part is damaged: {exc}") from exc

    text = require_text(clean("\n\n".join(body.blocks + extra)), "DOCX document")
    meta = DocumentMetadata()
    if any(rel.reltype == RT.CORE_PROPERTIES for rel in document.part.package.rels.values()):
        props = document.core_properties
        meta = properties_metadata(props.title, props.author, props.created, props.modified, props.language)
    if meta.title is None:
        meta.title = _docx_title_paragraph(document)
    return ParsedDocument(
        text=text,
        content_type=DOCX,
        parser=library("python-docx"),
        pages=whole(text),
        metadata=meta,
        tables=tables,
        headings=_locate_headings(text, body.blocks, body.headings),
    )
