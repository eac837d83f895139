"""ODT (OpenDocument Text, LibreOffice Writer): headings, paragraphs, lists, tables, text frames and notes.

Read by odfdo. The body is walked in document order: ``text:h`` becomes a `Heading` at its outline level,
paragraphs and list items become lines, tables ``cell | cell`` rows and a `Table`; footnotes and endnotes
follow the body. A generated table of contents is left out (its entries repeat the headings). Repeated
rows and cells (``number-rows-repeated``, which a crafted file can set to billions) are expanded only
while they hold text, and at most `_MAX_REPEAT` times.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

from vecflow.pipeline.detect import ODT
from vecflow.pipeline.parse.archive import ZIP_ERRORS, corrupt, open_package
from vecflow.pipeline.parse.model import (
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

_APP = "LibreOffice Writer"
_MAX_REPEAT = 100
_CONTAINERS = frozenset(
    {"text:section", "text:list-item", "text:list-header", "draw:frame", "draw:text-box", "text:index-body"}
)
_SKIP = frozenset(
    {
        "text:table-of-content",
        "text:sequence-decls",
        "text:tracked-changes",
        "office:forms",
        "table:table-column",
        "table:table-columns",
        "table:table-header-columns",
        "text:variable-decls",
        "text:user-field-decls",
    }
)
_ROW_GROUPS = frozenset({"table:table-header-rows", "table:table-rows", "table:table-row-group"})


class _Walker:
    """Collects text blocks, headings (offsets into the blocks joined by blank lines) and tables."""

    def __init__(self) -> None:
        self.blocks: list[str] = []
        self.length = 0
        self.headings: list[Heading] = []
        self.tables: list[Table] = []
        self.context: dict[str, Any] = {
            "document": None,
            "footnotes": [],
            "endnotes": [],
            "annotations": [],
            "rst_mode": False,
            "img_counter": 0,
            "images": [],
            "no_img_level": 0,
        }

    def add(self, text: str) -> int:
        text = clean(text)
        if not text:
            return -1
        start = self.length + (2 if self.blocks else 0)
        self.blocks.append(text)
        self.length = start + len(text)
        return start

    def inline(self, element: Any) -> str:
        return str(element.get_formatted_text(self.context, simple=True))

    def container(self, element: Any, prefix: str = "") -> None:
        for child in element.children:
            tag = child.tag
            if tag in _SKIP:
                continue
            if tag == "text:h":
                title = " ".join(self.inline(child).split())
                start = self.add(title)
                if start >= 0:
                    level = child.get_attribute_integer("text:outline-level") or 1
                    self.headings.append(Heading(max(1, level), shorten(title), start))
            elif tag == "text:p":
                self.add(prefix + self.inline(child))
            elif tag == "text:list":
                for item in child.children:
                    if item.tag in ("text:list-item", "text:list-header"):
                        self.container(item, prefix="- ")
            elif tag == "table:table":
                self.table(child)
            elif tag in _CONTAINERS:
                self.container(child, prefix)

    def table(self, element: Any) -> None:
        rows: list[list[str]] = []
        for row in _rows(element):
            cells: list[str] = []
            for cell in row.children:
                if cell.tag not in ("table:table-cell", "table:covered-table-cell"):
                    continue
                text = " ".join(" ".join(self.inline(p) for p in cell.children if p.tag == "text:p").split())
                repeat = cell.get_attribute_integer("table:number-columns-repeated") or 1
                cells.extend([text] * (min(repeat, _MAX_REPEAT) if text else 1))
            while cells and not cells[-1]:
                cells.pop()
            if cells:
                repeat = row.get_attribute_integer("table:number-rows-repeated") or 1
                rows.extend([cells] * min(repeat, _MAX_REPEAT))
        if not rows:
            return
        self.tables.append(Table(header=rows[0], rows=rows[1:], source=f"odt table {len(self.tables) + 1}"))
        self.add("\n".join(" | ".join(cells) for cells in rows))

    def notes(self) -> None:
        for citation, body in self.context["footnotes"] + self.context["endnotes"]:
            self.add(f"[{citation}] {body}")


def _rows(table: Any) -> list[Any]:
    rows: list[Any] = []
    for child in table.children:
        if child.tag == "table:table-row":
            rows.append(child)
        elif child.tag in _ROW_GROUPS:
            rows.extend(_rows(child))
    return rows


def _refuse_encrypted(path: Path) -> None:
    with zipfile.ZipFile(path) as archive:
        try:
            manifest = archive.read("META-INF/manifest.xml")
        except KeyError:
            return
    if b"encryption-data" in manifest:
        raise ParseError(
            ENCRYPTED_DOCUMENT,
            "The ODT file is password-protected. Open it in LibreOffice Writer, remove the password "
            "(File > Properties > Security, or save it again without 'Save with password'), and upload it again.",
        )


def _metadata(document: Any) -> DocumentMetadata:
    meta = document.meta
    return properties_metadata(
        meta.get_title(),
        meta.get_initial_creator() or meta.get_creator(),
        meta.get_creation_date(),
        meta.get_modification_date(),
        meta.get_language(),
    )


def parse_odt(path: Path, charset: str | None, limits: ParseLimits) -> ParsedDocument:
    names = open_package(path, "ODT", _APP, limits)
    if "content.xml" not in names:
        raise corrupt("ODT", "the ZIP package has no content.xml", _APP)
    from lxml import etree
    from odfdo import Document

    errors = (*ZIP_ERRORS, TypeError, etree.XMLSyntaxError)
    try:
        _refuse_encrypted(path)
        document = Document(path)
        kind = document.get_type()
        if kind not in ("text", "text-template"):
            raise ParseError(
                UNSUPPORTED_TYPE,
                f"The file is an OpenDocument {kind}, not a text document (ODT). Save it as PDF, or as "
                "ODT from LibreOffice Writer, and upload it again.",
            )
        walker = _Walker()
        walker.container(document.body)
        walker.notes()
        meta = _metadata(document)
    except ParseError:
        raise
    except errors as exc:
        raise corrupt("ODT", f"its content cannot be read: {exc}", _APP) from exc
    text = require_text("\n\n".join(walker.blocks), "ODT document")
    if meta.title is None and walker.headings:
        meta.title = walker.headings[0].title
    return ParsedDocument(
        text=text,
        content_type=ODT,
        parser=library("odfdo"),
        pages=whole(text),
        metadata=meta,
        tables=walker.tables,
        headings=walker.headings,
    )
