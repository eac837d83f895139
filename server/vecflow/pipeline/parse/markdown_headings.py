"""The headings of a Markdown text: ATX (``# Title``) and setext (a line underlined with ``===`` or ``---``).

One pass over the lines, in linear time and without a syntax tree (a 32-million-character file stays cheap):
fenced code blocks (```` ``` ```` or ``~~~``, closed by a fence of the same character at least as long) and
indented code hold no headings, YAML front matter is skipped, and a setext underline counts only under a
paragraph (not under a list item, quote, table row or after a blank line, where ``---`` is a thematic break).
Headings nested in list items or block quotes are not recorded. Titles lose their inline markup: links and
images keep their text, emphasis and code markers go, and a trailing ``{#id}`` attribute block is dropped.
"""

from __future__ import annotations

import re

from vecflow.pipeline.parse.model import Heading

_FRONT_MATTER = re.compile(r"\A---[ \t]*\n.*?\n(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.DOTALL)
_FENCE = re.compile(r" {0,3}(`{3,}|~{3,})(.*)")
_ATX = re.compile(r" {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*")
_SETEXT = re.compile(r" {0,3}(=+|-+)[ \t]*")
_THEMATIC = re.compile(r" {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*")
# Lines that start a block other than a paragraph, so a setext underline under them is not one.
_NOT_PARAGRAPH = re.compile(r" {0,3}(?:[-+*][ \t]|\d{1,9}[.)][ \t]|>|\||<[A-Za-z/!?])|(?: {4}|\t)")
_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_MARKUP = re.compile(r"\*\*|__|(?<!\w)[*_]|[*_](?!\w)|`+")
_ATTRIBUTES = re.compile(r"[ \t]*\{[#.][^}]*\}[ \t]*\Z")


def _plain(title: str) -> str:
    title = _ATTRIBUTES.sub("", title)
    title = _LINK.sub(r"\1", title)
    return " ".join(_MARKUP.sub("", title).split())


def markdown_headings(text: str) -> list[Heading]:
    """The ATX and setext headings of `text`, in order; `char_start` is where the heading's first line starts."""
    headings: list[Heading] = []
    front = _FRONT_MATTER.match(text)
    position = front.end() if front else 0
    fence = ""  # the open fence's characters ("" outside fenced code)
    paragraph: list[str] = []  # the lines of the paragraph being read
    paragraph_start = 0
    other_block = False  # inside a list item, quote, table or HTML block (until a blank line)
    size = len(text)
    while position < size:
        end = text.find("\n", position)
        if end < 0:
            end = size
        line = text[position:end]
        start, position = position, end + 1
        if fence:
            closing = _FENCE.fullmatch(line)
            if closing and closing.group(1)[0] == fence[0] and len(closing.group(1)) >= len(fence):
                if not closing.group(2).strip():
                    fence = ""
            continue
        if not line.strip():
            paragraph, other_block = [], False
            continue
        opening = _FENCE.fullmatch(line)
        if opening and not (opening.group(1)[0] == "`" and "`" in opening.group(2)):
            fence, paragraph = opening.group(1), []
            continue
        if paragraph:
            underline = _SETEXT.fullmatch(line)
            if underline:
                title = _plain(" ".join(part.strip() for part in paragraph))
                if title:
                    headings.append(Heading(1 if underline.group(1)[0] == "=" else 2, title, paragraph_start))
                paragraph = []
                continue
        elif line.startswith(("    ", "\t")):
            continue  # indented code, or a list item's indented content
        atx = _ATX.fullmatch(line)
        if atx:
            title = _plain(atx.group(2) or "")
            if title:
                headings.append(Heading(len(atx.group(1)), title, start))
            paragraph, other_block = [], False
            continue
        if _THEMATIC.fullmatch(line):
            paragraph, other_block = [], False
            continue
        if not paragraph:
            if other_block or _NOT_PARAGRAPH.match(line):
                other_block = True  # no setext heading under a list item, quote, table row or HTML block
                continue
            paragraph_start = start
        paragraph.append(line)
    return headings
