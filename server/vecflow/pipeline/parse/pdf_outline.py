"""A PDF's outline (its bookmarks) as headings, read by pypdf.

Each outline entry whose destination resolves to a page becomes a `Heading`; its level is its depth in the
outline (1 for the roots). It is placed where its title appears in that page's text (case and spacing aside,
after the previous heading on the same page), at the start of that line when only a few characters precede it
(a section number such as "2.1", which then joins the title when the outline left it out), or else at the start
of the page's text; never before the heading listed above it, so the headings stay in outline order. The
outline is a bonus: a PDF whose outline cannot be read, or that has none, simply has no headings.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from vecflow.pipeline.parse.model import Heading, PageSpan
from vecflow.pipeline.parse.text import clean

MAX_OUTLINE_ITEMS = 10_000  # entries read; a larger outline is cut here
MAX_OUTLINE_DEPTH = 32  # nesting followed; deeper entries are left out
_TITLE_SEARCH_CHARS = 20_000  # how far into a page its heading's title is looked for
_NUMBER_PREFIX_CHARS = 12  # a title found this close to its line's start is placed at the line's start
_SECTION_NUMBER = re.compile(r"(?:\d{1,3}|[A-Z])(?:\.\d{1,3})*\.?")  # "2", "2.1", "A.1", "3."

log = logging.getLogger("vecflow.pipeline.parse")


def _entries(reader: Any) -> list[tuple[int, str, int]]:
    """(level, title, 0-based page index) of each outline entry with a page, in outline order."""
    found: list[tuple[int, str, int]] = []
    stack: list[tuple[Iterator[Any], int]] = [(iter(reader.outline), 1)]  # the nested lists being walked
    while stack and len(found) < MAX_OUTLINE_ITEMS:
        items, level = stack[-1]
        item = next(items, None)
        if item is None:
            stack.pop()
        elif isinstance(item, list):  # the children of the entry before it
            if level < MAX_OUTLINE_DEPTH:
                stack.append((iter(item), level + 1))
        else:
            title = " ".join(clean(str(getattr(item, "title", "") or "")).split())
            try:
                page = reader.get_destination_page_number(item)
            except Exception:  # a destination that points nowhere
                continue
            if title and isinstance(page, int) and page >= 0:
                found.append((level, title, page))
    return found


def _title_at(page_text: str, title: str, start: int) -> tuple[int, int] | None:
    """Where `title` appears in `page_text` at or after `start` (any case, any whitespace): (start, end)."""
    pattern = re.compile(r"\s+".join(re.escape(word) for word in title.split()), re.IGNORECASE)
    match = pattern.search(page_text, start, start + _TITLE_SEARCH_CHARS)
    return match.span() if match else None


def outline_headings(path: Path, pages: Sequence[str], spans: Sequence[PageSpan]) -> list[Heading]:
    """The headings of the PDF at `path` from its outline; `pages` are the page texts that `spans` place in
    the document's text (page i's text starts at ``spans[i].char_start``)."""
    try:
        import pypdf

        reader = pypdf.PdfReader(path)
        if reader.is_encrypted and not reader.decrypt(""):
            return []
        entries = _entries(reader)
    except (Exception, RecursionError) as exc:
        log.debug("the PDF outline could not be read: %s", exc)
        return []
    headings: list[Heading] = []
    page_at, start_at, searched_to = -1, 0, 0  # the previous heading: its page, where it starts, where it ends
    for level, title, page in entries:
        if page >= len(pages) or page >= len(spans):
            continue
        if page < page_at:  # listed after a heading on a later page: keep the outline's order
            page = page_at
        if page != page_at:
            page_at, start_at, searched_to = page, 0, 0
        found = _title_at(pages[page], title, searched_to)
        if found is not None:
            line = pages[page].rfind("\n", 0, found[0]) + 1
            begins = found[0]
            if found[0] - line <= _NUMBER_PREFIX_CHARS:  # "2.1 " before a title the outline lists without it
                prefix = pages[page][line : found[0]].strip()
                if _SECTION_NUMBER.fullmatch(prefix):
                    title = f"{prefix} {title}"
                begins = line
            start_at, searched_to = max(begins, start_at), found[1]
        headings.append(Heading(level, title, spans[page].char_start + start_at))
    return headings
