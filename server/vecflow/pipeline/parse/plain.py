"""Markdown and plain text: decoded and kept as they are; title, authors, date and language from front matter;
Markdown's headings (markdown_headings)."""

from __future__ import annotations

import re
from pathlib import Path

from vecflow.pipeline.detect import MARKDOWN, PLAIN
from vecflow.pipeline.parse.encoding import decode_text
from vecflow.pipeline.parse.markdown_headings import markdown_headings
from vecflow.pipeline.parse.model import DocumentMetadata, ParsedDocument, ParseLimits, library, require_text, whole
from vecflow.pipeline.parse.text import clean, iso_text, language_code, shorten, split_authors

_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?)\n(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.DOTALL)
_ATX_HEADING = re.compile(r"^ {0,3}#{1,6}[ \t]+(.+?)[ \t#]*$", re.MULTILINE)
_SETEXT_HEADING = re.compile(r"^ {0,3}(\S.*?)[ \t]*\n {0,3}(?:=+|-+)[ \t]*$", re.MULTILINE)


def _front_matter_value(block: str, key: str) -> str | None:
    match = re.search(rf"^{key}\s*:\s*(.+)$", block, re.MULTILINE | re.IGNORECASE)
    if not match:
        return None
    value = match.group(1).strip().strip("\"'").strip()
    return value or None


def _text_metadata(text: str, *, markdown: bool) -> DocumentMetadata:
    """YAML front matter (title, author, date, lang) for both; Markdown also takes its first heading as title."""
    meta = DocumentMetadata()
    front = _FRONT_MATTER.match(text)
    if front:
        block = front.group(1)
        title = _front_matter_value(block, "title")
        meta.title = shorten(title) if title else None
        author = _front_matter_value(block, "author")
        if author and not author.startswith(("[", "-")):
            meta.authors = split_authors(author)
        meta.created = iso_text(_front_matter_value(block, "date"))
        meta.language = language_code(_front_matter_value(block, "lang") or _front_matter_value(block, "language"))
        text = text[front.end() :]
    if meta.title is None and markdown:
        heading = _ATX_HEADING.search(text[:20_000]) or _SETEXT_HEADING.search(text[:20_000])
        if heading:
            meta.title = shorten(heading.group(1))
    return meta


def parse_text(path: Path, charset: str | None, limits: ParseLimits, *, markdown: bool) -> ParsedDocument:
    what = "Markdown file" if markdown else "text file"
    text = require_text(clean(decode_text(path.read_bytes(), charset, what)), what)
    return ParsedDocument(
        text=text,
        content_type=MARKDOWN if markdown else PLAIN,
        parser=library("charset-normalizer"),
        pages=whole(text),
        metadata=_text_metadata(text, markdown=markdown),
        headings=markdown_headings(text) if markdown else [],
    )
