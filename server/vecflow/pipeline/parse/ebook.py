"""EPUB 2 and 3: chapters in spine order, one page each, titled from the table of contents.

An EPUB is a ZIP package (checked by `archive.open_package`) whose OPF file lists the book's documents
(manifest) and their reading order (spine). The package files are XML, read here with lxml; each chapter is
XHTML, turned into text by the HTML parser (`web.parse_html`), so chapters get the same text, tables and
headings as an HTML page. A chapter's title comes from the table of contents (the EPUB 3 navigation
document, else the EPUB 2 NCX), else from its first heading; it becomes a level-1 `Heading`, the
chapter's own headings go below it.

ebooklib would read the same files but is AGPL-3.0 (vecflow is Apache-2.0) and loads every item of the
book into memory; the container format itself is a few XML files.
"""

from __future__ import annotations

import posixpath
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from vecflow.pipeline.detect import EPUB
from vecflow.pipeline.parse.archive import ZIP_ERRORS, corrupt, open_package
from vecflow.pipeline.parse.model import (
    EMPTY_FILE,
    ENCRYPTED_DOCUMENT,
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
from vecflow.pipeline.parse.text import iso_text, language_code, shorten
from vecflow.pipeline.parse.web import parse_html

_APP = "an e-book editor (Calibre, Sigil)"
_CONTAINER = "{urn:oasis:names:tc:opendocument:xmlns:container}"
_OPF = "{http://www.idpf.org/2007/opf}"
_DC = "{http://purl.org/dc/elements/1.1/}"
_NCX = "{http://www.daisy.org/z3986/2005/ncx/}"
_OPS_TYPE = "{http://www.idpf.org/2007/ops}type"
_CHAPTER_TYPES = frozenset({"application/xhtml+xml", "text/html", "application/x-dtbook+xml"})
# Font obfuscation (IDPF, Adobe) lists fonts in encryption.xml; any other encrypted resource is DRM.
_FONT_OBFUSCATION = frozenset({"http://www.idpf.org/2008/embedding", "http://ns.adobe.com/pdf/enc#RC"})
_DRM_FILES = ("META-INF/rights.xml", "META-INF/sinf.xml")


@dataclass
class _Item:
    path: str  # inside the ZIP
    media_type: str
    properties: str


def _xml(data: bytes) -> Any:
    from lxml import etree

    parser = etree.XMLParser(resolve_entities=False, no_network=True, remove_comments=True, recover=True)
    root = etree.fromstring(data, parser)
    if root is None:
        raise etree.XMLSyntaxError("no XML element", None, 0, 0)
    return root


def _resolve(base: str, href: str) -> str:
    """The ZIP path `href` (relative to the file at `base`) points to, without its fragment."""
    target = unquote(urlsplit(href).path)
    return posixpath.normpath(posixpath.join(posixpath.dirname(base), target)) if target else base


def _refuse_drm(archive: zipfile.ZipFile, names: set[str]) -> None:
    drm = [name for name in _DRM_FILES if name in names]
    if "META-INF/encryption.xml" in names:
        root = _xml(archive.read("META-INF/encryption.xml"))
        methods = {
            str(method.get("Algorithm") or "")
            for method in root.iter()
            if isinstance(method.tag, str) and method.tag.endswith("EncryptionMethod")
        }
        if methods - _FONT_OBFUSCATION:
            drm.append("META-INF/encryption.xml")
    if drm:
        raise ParseError(
            ENCRYPTED_DOCUMENT,
            "The EPUB book is protected by DRM (its content is encrypted). Upload a DRM-free copy, for example "
            "one the publisher sells without DRM.",
        )


def _toc_titles(archive: zipfile.ZipFile, names: set[str], items: dict[str, _Item], toc_id: str) -> dict[str, str]:
    """Chapter path → its title in the table of contents (the first entry that points into it)."""
    titles: dict[str, str] = {}
    nav = next((item for item in items.values() if "nav" in item.properties.split()), None)
    if nav is not None and nav.path in names:
        root = _xml(archive.read(nav.path))
        navs = [el for el in root.iter() if isinstance(el.tag, str) and el.tag.rsplit("}", 1)[-1] == "nav"]
        toc = next((el for el in navs if el.get(_OPS_TYPE) == "toc"), navs[0] if navs else None)
        for link in toc.iter() if toc is not None else ():
            if isinstance(link.tag, str) and link.tag.rsplit("}", 1)[-1] == "a" and link.get("href"):
                title = shorten("".join(link.itertext()))
                if title:
                    titles.setdefault(_resolve(nav.path, link.get("href")), title)
    ncx = items.get(toc_id)
    if not titles and ncx is not None and ncx.path in names:
        root = _xml(archive.read(ncx.path))
        for point in root.iter(f"{_NCX}navPoint"):
            label, content = point.find(f"{_NCX}navLabel/{_NCX}text"), point.find(f"{_NCX}content")
            if label is not None and content is not None and content.get("src"):
                title = shorten("".join(label.itertext()))
                if title:
                    titles.setdefault(_resolve(ncx.path, content.get("src")), title)
    return titles


def _metadata(opf: Any) -> DocumentMetadata:
    meta = DocumentMetadata()
    block = opf.find(f"{_OPF}metadata")
    if block is None:
        return meta

    def texts(tag: str) -> list[str]:
        return [" ".join("".join(el.itertext()).split()) for el in block.iter(tag)]

    meta.title = next((shorten(t) for t in texts(f"{_DC}title") if t), None)
    meta.authors = [t for t in texts(f"{_DC}creator") if t]
    meta.created = next((iso_text(t[:10] if len(t) >= 10 else t) for t in texts(f"{_DC}date") if t), None)
    meta.language = next((language_code(t) for t in texts(f"{_DC}language") if language_code(t)), None)
    for el in block.iter(f"{_OPF}meta"):
        if el.get("property") == "dcterms:modified" and el.text:
            meta.modified = iso_text(el.text.strip().replace("Z", "+00:00"))
    return meta


def _package(archive: zipfile.ZipFile, names: set[str]) -> tuple[str, Any]:
    """The OPF file's path and root element, found through META-INF/container.xml."""
    if "META-INF/container.xml" not in names:
        opfs = sorted(name for name in names if name.lower().endswith(".opf"))
        if not opfs:
            raise corrupt("EPUB", "it has neither META-INF/container.xml nor a package (.opf) file", _APP)
        return opfs[0], _xml(archive.read(opfs[0]))
    container = _xml(archive.read("META-INF/container.xml"))
    rootfile = container.find(f"{_CONTAINER}rootfiles/{_CONTAINER}rootfile")
    path = rootfile.get("full-path") if rootfile is not None else None
    if not path or path not in names:
        raise corrupt("EPUB", "META-INF/container.xml names no package file that the book holds", _APP)
    return path, _xml(archive.read(path))


def _first_heading(data: bytes) -> str | None:
    import lxml.html

    try:
        root = lxml.html.fromstring(data)
    except (ValueError, TypeError):
        return None
    found = root.xpath("(//h1|//h2|//h3|//h4|//h5|//h6)[1]")
    return shorten(found[0].text_content()) or None if found else None


def parse_epub(path: Path, charset: str | None, limits: ParseLimits) -> ParsedDocument:
    from lxml import etree

    names = open_package(path, "EPUB", _APP, limits)
    pages: list[PageSpan] = []
    headings: list[Heading] = []
    tables: list[Table] = []
    parts: list[str] = []
    length = 0
    try:
        with zipfile.ZipFile(path) as archive, tempfile.TemporaryDirectory(prefix="vecflow-epub-") as scratch:
            _refuse_drm(archive, names)
            opf_path, opf = _package(archive, names)
            meta = _metadata(opf)
            items = {
                str(item.get("id")): _Item(
                    _resolve(opf_path, str(item.get("href") or "")),
                    str(item.get("media-type") or "").lower(),
                    str(item.get("properties") or ""),
                )
                for item in opf.iter(f"{_OPF}item")
                if item.get("id") and item.get("href")
            }
            spine = opf.find(f"{_OPF}spine")
            if spine is None:
                raise corrupt("EPUB", "its package file has no spine (reading order)", _APP)
            titles = _toc_titles(archive, names, items, str(spine.get("toc") or ""))
            chapter_file = Path(scratch) / "chapter.xhtml"
            for ref in spine.iter(f"{_OPF}itemref"):
                item = items.get(str(ref.get("idref") or ""))
                if item is None or item.media_type not in _CHAPTER_TYPES or item.path not in names:
                    continue
                data = archive.read(item.path)
                chapter_file.write_bytes(data)
                try:
                    chapter = parse_html(chapter_file, None, limits)
                except ParseError as err:
                    if err.code == EMPTY_FILE:
                        continue  # a cover image, a blank page
                    raise
                text = chapter.text  # cleaned already; its headings' offsets point into it
                start = length + (2 if parts else 0)
                title = titles.get(item.path) or next((h.title for h in chapter.headings), None)
                title = title or _first_heading(data)
                if title:
                    headings.append(Heading(1, title, start))
                for inner in chapter.headings:
                    if not (inner.char_start == 0 and inner.title == title):
                        headings.append(Heading(inner.level + 1, inner.title, start + inner.char_start))
                for table in chapter.tables:
                    table.source = f"epub {item.path} {table.source}"
                    tables.append(table)
                parts.append(text)
                length = start + len(text)
                pages.append(PageSpan(len(pages) + 1, start, length))
                if length > limits.max_characters:
                    raise too_large("text", limits.max_characters, "characters", "VECFLOW_PARSE_MAX_CHARACTERS")
    except ParseError:
        raise
    except (*ZIP_ERRORS, etree.XMLSyntaxError) as exc:
        raise corrupt("EPUB", f"a part of the book cannot be read: {exc}", _APP) from exc
    text = require_text("\n\n".join(parts), "EPUB book")
    return ParsedDocument(
        text=text,
        content_type=EPUB,
        parser=f"epub: {library('lxml')}, {library('beautifulsoup4')}",
        pages=pages,
        metadata=meta,
        tables=tables,
        headings=headings,
    )
