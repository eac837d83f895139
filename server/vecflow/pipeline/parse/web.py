"""HTML: the visible text of a page's main region, its data tables and its metadata, read by BeautifulSoup."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from vecflow.pipeline.detect import HTML
from vecflow.pipeline.parse.encoding import codec_name, decode_text
from vecflow.pipeline.parse.model import (
    DocumentMetadata,
    ParsedDocument,
    ParseLimits,
    Table,
    library,
    require_text,
    whole,
)
from vecflow.pipeline.parse.text import BLANK_LINES, clean, iso_text, language_code, shorten, split_authors

_META_CHARSET = re.compile(rb"<meta[^>]+charset\s*=\s*[\"']?\s*([\w.:-]+)", re.IGNORECASE)
_XML_ENCODING = re.compile(rb"^\s*<\?xml[^>]+encoding\s*=\s*[\"']([\w.:-]+)", re.IGNORECASE)
_DROP_TAGS = [
    "script",
    "style",
    "nav",
    "header",
    "footer",
    "aside",
    "noscript",
    "template",
    "iframe",
    "svg",
    "canvas",
    "select",
    "button",
    "head",
]
_DROP_ROLES = frozenset({"navigation", "banner", "contentinfo", "complementary", "search"})
# Line breaks an element puts around itself: 2 = paragraph (blank line), 1 = line.
_HTML_BREAKS = {
    **dict.fromkeys(
        "p h1 h2 h3 h4 h5 h6 pre blockquote ul ol dl table section article main figure address hr "
        "form fieldset details".split(),
        2,
    ),
    **dict.fromkeys("div li dt dd tr td th br caption figcaption summary legend center".split(), 1),
}
_SPACES = re.compile(r"\s+")
_XML_PROLOG = re.compile(r"\A\s*<\?xml[^>]*\?>")
_PERMALINK_MARKS = frozenset({"#", "¶", "§", "🔗"})
# A table whose cells hold these is laid out as a page, not data: its cells are walked as blocks.
_LAYOUT_IN_CELLS = ["table", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "dl", "pre", "blockquote", "hr"]


class _Raw(str):
    """Preformatted text: whitespace kept as it is."""


def _html_encoding(data: bytes, declared: str | None) -> str | None:
    """The charset the page declares: HTTP-level first, then <meta>, then the XML declaration."""
    if codec_name(declared):
        return declared
    head = data[:4096]
    for pattern in (_META_CHARSET, _XML_ENCODING):
        match = pattern.search(head)
        if match:
            label = match.group(1).decode("ascii", errors="ignore")
            codec = codec_name(label)
            if codec and codec.startswith("utf_16"):
                return "utf-8"  # a BOM-less page cannot really be UTF-16 if ASCII markup matched (WHATWG rule)
            if codec:
                return label
    return None


def _drop_boilerplate(root: Any) -> None:
    from bs4 import Comment, Tag

    for tag in root.find_all(_DROP_TAGS):
        tag.decompose()
    hidden = [
        tag
        for tag in root.find_all(True)
        if isinstance(tag, Tag)
        and tag.attrs is not None
        and (
            tag.has_attr("hidden")
            or str(tag.get("aria-hidden", "")).lower() == "true"
            or str(tag.get("role", "")).lower() in _DROP_ROLES
            or "display:none" in str(tag.get("style", "")).replace(" ", "").lower()
        )
    ]
    for tag in hidden:
        if not tag.decomposed:
            tag.decompose()
    for comment in root.find_all(string=lambda s: isinstance(s, Comment)):
        comment.extract()
    # Permalink anchors next to headings ("Events#", "Abstract¶").
    for anchor in root.find_all("a", href=True):
        if str(anchor["href"]).startswith("#") and anchor.get_text(strip=True) in _PERMALINK_MARKS:
            anchor.decompose()


def _is_data_table(table: Any) -> bool:
    if table.find(_LAYOUT_IN_CELLS) is not None:
        return False
    return any(len(tr.find_all(["td", "th"], recursive=False)) >= 2 for tr in table.find_all("tr"))


def _main_region(soup: Any) -> Any:
    body = soup.body or soup
    candidates = soup.find_all("main") or soup.find_all(attrs={"role": "main"}) or soup.find_all("article")
    if len(candidates) == 1:
        main = candidates[0]
        main_len = len(main.get_text(" ", strip=True))
        if main_len >= 200 or main_len >= 0.5 * len(body.get_text(" ", strip=True)):
            return main
    return body


def _cell_text(cell: Any) -> str:
    return " ".join(cell.get_text(" ").split())


def _html_table(table: Any, tables: list[Table]) -> str:
    rows: list[list[str]] = []
    lines: list[str] = []
    caption = table.find("caption")
    if caption is not None:
        lines.append(_cell_text(caption))
    for tr in table.find_all("tr"):
        cells: list[str] = []
        shown: list[str] = []
        for cell in tr.find_all(["td", "th"], recursive=False):
            text = _cell_text(cell)
            cells.append(text)
            shown.append(text)
            span = str(cell.get("colspan", "1")).strip()
            if span.isdigit() and 1 < int(span) <= 100:
                cells.extend([""] * (int(span) - 1))
        if any(cells):
            rows.append(cells)
            lines.append(" | ".join(shown))
    if rows:
        tables.append(Table(header=rows[0], rows=rows[1:], source=f"html table {len(tables) + 1}"))
    return "\n".join(lines)


def _html_text(root: Any, tables: list[Table]) -> str:
    """Visible text of `root` with line and paragraph breaks from block elements (iterative, any depth)."""
    from bs4 import CData, NavigableString, Tag

    tokens: list[str | int] = []
    stack: list[tuple[Any, bool]] = [(root, False)]
    pre_depth = 0
    while stack:
        node, closing = stack.pop()
        if closing:
            if node.name == "pre":
                pre_depth -= 1
            tokens.append(1 if node.name == "code" and pre_depth else _HTML_BREAKS.get(node.name, 0))
            continue
        if isinstance(node, NavigableString):
            if type(node) in (NavigableString, CData):
                tokens.append(_Raw(str(node)) if pre_depth else _SPACES.sub(" ", str(node)))
            continue
        if not isinstance(node, Tag):
            continue
        name = node.name
        if name == "table" and _is_data_table(node):
            tokens.extend([2, _Raw(_html_table(node, tables)), 2])
            continue
        if name == "pre":
            pre_depth += 1
        tokens.append(1 if name == "code" and pre_depth else _HTML_BREAKS.get(name, 0))
        stack.append((node, True))
        stack.extend((child, False) for child in reversed(node.contents))

    out: list[str] = []
    pending = 0
    for token in tokens:
        if isinstance(token, int):
            pending = max(pending, token)
            continue
        raw = isinstance(token, _Raw)
        if out and pending:
            out[-1] = out[-1].rstrip(" \t")
            out.append("\n" * pending)
            token = token if raw else token.lstrip(" ")
        elif not out or out[-1].endswith((" ", "\n")):
            token = token if raw else token.lstrip(" ")
        if token:
            out.append(token)
            pending = 0
    return "".join(out)


def _meta_content(soup: Any, *names: str) -> list[str]:
    wanted = {n.lower() for n in names}
    values = []
    for tag in soup.find_all("meta"):
        key = str(tag.get("name") or tag.get("property") or tag.get("itemprop") or "").lower()
        content = tag.get("content")
        if key in wanted and isinstance(content, str) and content.strip():
            values.append(content.strip())
    return values


def _html_metadata(soup: Any) -> DocumentMetadata:
    meta = DocumentMetadata()
    if soup.title is not None:
        meta.title = shorten(soup.title.get_text(" ")) or None
    if meta.title is None:
        h1 = soup.find("h1")
        if h1 is not None:
            meta.title = shorten(h1.get_text(" ")) or None
    for value in _meta_content(soup, "author", "dc.creator", "dcterms.creator", "citation_author", "article:author"):
        for author in split_authors(value):
            if author not in meta.authors:
                meta.authors.append(author)
    created = _meta_content(soup, "dcterms.created", "dc.date", "date", "article:published_time", "datepublished")
    modified = _meta_content(soup, "dcterms.modified", "last-modified", "article:modified_time", "datemodified")
    meta.created = iso_text(created[0]) if created else None
    meta.modified = iso_text(modified[0]) if modified else None
    html = soup.find("html")
    if html is not None:
        meta.language = language_code(html.get("lang")) or language_code(html.get("xml:lang"))
    if meta.language is None:
        for tag in soup.find_all("meta"):
            if str(tag.get("http-equiv", "")).lower() == "content-language":
                meta.language = language_code(str(tag.get("content", "")).split(",")[0])
                break
    return meta


def parse_html(path: Path, charset: str | None, limits: ParseLimits) -> ParsedDocument:
    from bs4 import BeautifulSoup

    data = path.read_bytes()
    text = decode_text(data, _html_encoding(data, charset), "HTML file")
    del data
    # An XHTML page's XML declaration is noise to the HTML parser (and makes bs4 warn); the text is decoded already.
    soup = BeautifulSoup(_XML_PROLOG.sub("", text, count=1), "lxml")
    del text
    meta = _html_metadata(soup)
    _drop_boilerplate(soup)
    tables: list[Table] = []
    body = require_text(clean(BLANK_LINES.sub("\n\n", _html_text(_main_region(soup), tables))), "HTML page")
    return ParsedDocument(
        text=body,
        content_type=HTML,
        parser=library("beautifulsoup4"),
        pages=whole(body),
        metadata=meta,
        tables=tables,
    )
