"""HTML: the visible text of a page's main region, its headings, data tables and metadata, read by BeautifulSoup.

Scripts, styles, hidden elements and marked navigation (<nav>, <aside>, a page's <header> and <footer>, ARIA
landmarks) are dropped, then the main region (<main>, role="main" or a lone <article>, when it holds the page's
text) is chosen, then unmarked navigation inside it (web_navigation.py: texinfo Next/Previous/Up panels,
breadcrumbs, cookie banners, sidebars, link lists). h1–h6 become `ParsedDocument.headings`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vecflow.pipeline.detect import HTML
from vecflow.pipeline.parse.encoding import codec_name, decode_text
from vecflow.pipeline.parse.model import (
    DocumentMetadata,
    Heading,
    ParsedDocument,
    ParseLimits,
    Table,
    library,
    require_text,
    whole,
)
from vecflow.pipeline.parse.text import BLANK_LINES, clean, iso_text, language_code, shorten, split_authors
from vecflow.pipeline.parse.web_navigation import drop_navigation

_META_CHARSET = re.compile(rb"<meta[^>]+charset\s*=\s*[\"']?\s*([\w.:-]+)", re.IGNORECASE)
_XML_ENCODING = re.compile(rb"^\s*<\?xml[^>]+encoding\s*=\s*[\"']([\w.:-]+)", re.IGNORECASE)
_DROP_TAGS = [
    "script",
    "style",
    "nav",
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
    "dialog",
]
_DROP_ROLES = frozenset(
    {"navigation", "banner", "contentinfo", "complementary", "search", "dialog", "alertdialog", "menubar"}
)
_HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
# Marks where a heading's text starts (one per level, h1 = U+E001) and ends (U+E000) in the rendered text:
# private-use characters, removed from the page's own text first.
_HEADING_END = "\ue000"
_MARKS = re.compile("[\ue000-\ue006]")
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
    # A page's <header> is its banner; an article's <header> holds the article's title (and is kept).
    for tag in root.find_all("header"):
        if not tag.decomposed and not (tag.find_parent("article") is not None and tag.find(_HEADINGS) is not None):
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


@dataclass(frozen=True)
class _Edge:
    """A heading element's start (`opening`) or end in the token stream."""

    node: Any
    opening: bool


def _html_text(root: Any, tables: list[Table]) -> str:
    """Visible text of `root` with line and paragraph breaks from block elements (iterative, any depth); the
    text of each outermost h1–h6 lies between a start mark (its level's) and _HEADING_END."""
    from bs4 import CData, NavigableString, Tag

    tokens: list[str | int | _Edge] = []  # text, a break (1 line, 2 paragraph), a heading's start or end
    stack: list[tuple[Any, bool]] = [(root, False)]
    pre_depth = 0
    while stack:
        node, closing = stack.pop()
        if closing:
            if node.name == "pre":
                pre_depth -= 1
            tokens.append(1 if node.name == "code" and pre_depth else _HTML_BREAKS.get(node.name, 0))
            if node.name in _HEADINGS:
                tokens.append(_Edge(node, opening=False))
            continue
        if isinstance(node, NavigableString):
            if type(node) in (NavigableString, CData):
                value = _MARKS.sub("", str(node))
                tokens.append(_Raw(value) if pre_depth else _SPACES.sub(" ", value))
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
        if name in _HEADINGS:
            tokens.append(_Edge(node, opening=True))
        stack.append((node, True))
        stack.extend((child, False) for child in reversed(node.contents))

    out: list[str] = []
    pending = 0
    heading: Any = None  # the outermost heading being rendered
    started = False  # whether its text has begun (its start mark is written)
    start_mark = ""
    for token in tokens:
        if isinstance(token, int):
            pending = max(pending, token)
            continue
        if isinstance(token, _Edge):
            if token.opening and heading is None:
                heading, started = token.node, False
                start_mark = chr(ord(_HEADING_END) + int(token.node.name[1]))
            elif not token.opening and token.node is heading:
                if started:
                    out[-1] = out[-1].rstrip(" \t")
                    out.append(_HEADING_END)
                heading = None
            continue
        raw = isinstance(token, _Raw)
        if out and pending:
            out[-1] = out[-1].rstrip(" \t")
            out.append("\n" * pending)
            token = token if raw else token.lstrip(" ")
        elif not out or out[-1].endswith((" ", "\n")):
            token = token if raw else token.lstrip(" ")
        if token:
            if heading is not None and not started:
                out.append(start_mark)
                started = True
            out.append(token)
            pending = 0
    return "".join(out)


def _unmark(marked: str) -> tuple[str, list[Heading]]:
    """The text without its heading marks, and the headings they marked, at their positions in that text."""
    parts: list[str] = []
    headings: list[Heading] = []
    length = 0
    position = 0
    level = 0  # of the heading being read, 0 outside one
    first_part = start = 0
    for match in _MARKS.finditer(marked):
        piece = marked[position : match.start()]
        parts.append(piece)
        length += len(piece)
        position = match.end()
        mark = match.group()
        if mark != _HEADING_END:
            level, first_part, start = ord(mark) - ord(_HEADING_END), len(parts), length
        elif level:
            title = shorten("".join(parts[first_part:]))
            if title:
                headings.append(Heading(level=level, title=title, char_start=start))
            level = 0
    parts.append(marked[position:])
    return "".join(parts), headings


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
    region = _main_region(soup)
    drop_navigation(region)
    tables: list[Table] = []
    body, headings = _unmark(clean(BLANK_LINES.sub("\n\n", _html_text(region, tables))))
    require_text(body, "HTML page")
    return ParsedDocument(
        text=body,
        content_type=HTML,
        parser=library("beautifulsoup4"),
        pages=whole(body),
        metadata=meta,
        tables=tables,
        headings=headings,
    )
