"""Chunking: cut a document's text into overlapping windows of model tokens, at exact character positions.

The text is tokenised once with the embedding model's own (fast) tokenizer, keeping each token's character
offsets. A window of `max_tokens` tokens slides over them; consecutive chunks share `overlap_tokens` tokens.
A window prefers to end at a paragraph break, then a sentence end, then a line break, then a word boundary,
if one lies in its last fifth; the next window starts `overlap_tokens` tokens before that cut (moved back a
few tokens when that would be inside a word, so no chunk starts mid-word). Each chunk's text is a slice of the
original string, so `text[chunk.char_start:chunk.char_end] == chunk.text` always holds.

Long texts are tokenised in blocks of about 32 KiB cut at whitespace (the Rust tokenizer encodes the blocks in
parallel), so a 10 MB text takes seconds. The result depends only on the text, the tokenizer, the sizes, the
headings and the mode.

Sections
--------
`headings` (level, title, char_start), as parsers record them, make the text's section tree: a heading opens a
section that runs to the next heading of the same or a higher level (a smaller number). Every chunk carries the
path of the section in which its text *starts*, its titles joined by " › " ("2 Basic Elements › 2.1 Numbers"; ""
before the first heading); a bare heading at the chunk's start (one directly followed by the next heading, as
"2 Basic Elements" by "2.1 Numbers") does not count: the chunk is in the section after it. Two modes:

* ``token_window`` (the default): the windows above slide over the whole text, across section boundaries.
* ``section``: the text is cut at every heading first, and a chunk crosses a cut only where small sections are
  joined. A section that fits in the window is one chunk; a longer one is windowed inside itself (same overlap
  and cut rules). A section smaller than a quarter of the window takes in the sections after it while the group
  stays that small and fits in the window: its own subsections, or, when it has none, its next siblings that
  have no subsections themselves. So a chunk never mixes "2.3" with "3", and a section with subsections always
  starts a chunk; when it is that small (typically a bare heading) it is joined to its first subsection even if
  the two must then be windowed together, so that no chunk is a heading alone. A joined group is one chunk with
  the path of the section it starts in. The text before the first heading is a section without subsections.
"""

from __future__ import annotations

import bisect
import re
import threading
import weakref
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import chain
from typing import Any

import numpy as np

MIN_CHUNK_TOKENS = 16
CHUNKING_MODES = ("token_window", "section")
DEFAULT_CHUNKING_MODE = "token_window"
SECTION_SEPARATOR = " › "
MAX_SECTION_TITLE_CHARS = 200  # a heading's title in a section path is cut to this
MAX_SECTION_BYTES = 2048  # a section path's UTF-8 bytes (the Milvus field); longer paths keep their start
SECTION_MERGE_FRACTION = 4  # in section mode, sections under max_tokens // 4 tokens are joined by what follows
BLOCK_CHARS = 32_768
_ENCODE_GROUP = 64  # blocks per encode_batch call
_BLOCK_SEARCH = 4_096  # how far past a block's nominal end to look for whitespace to cut at
_SNAP_TOKENS = 16  # how far a window's start may move back to reach the start of a word

_WHITESPACE = re.compile(r"\s")
_PARAGRAPH = re.compile(r"\n[^\S\n]*\n")
_SENTENCE_END = frozenset(".!?…")
_CLOSING = frozenset("\"')]}’”»")
_CJK_SENTENCE_END = frozenset("。！？")

# Ranks of a cut between two tokens: higher is a better place to end a chunk.
_PARAGRAPH_BREAK, _SENTENCE_BREAK, _LINE_BREAK, _WORD_BREAK, _NO_BREAK = 4, 3, 2, 1, 0


@dataclass(frozen=True)
class Chunk:
    """A window of the text: `text == source[char_start:char_end]`; `page` is the 1-based page holding
    `char_start` (0 when the document has no pages); `section` is the path of the section holding `char_start`
    ("" before the first heading, or without headings)."""

    index: int
    text: str
    token_count: int
    char_start: int
    char_end: int
    page: int
    section: str = ""


# ---------------------------------------------------------------------------------------------------------------
# Tokenising


_BACKENDS: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()
_BACKENDS_LOCK = threading.Lock()


def _backend(tokenizer: Any) -> Any:
    """A private copy of the Rust tokenizer behind `tokenizer`, with truncation and padding off.

    A copy, because a Hugging Face tokenizer's truncation and padding are state of its Rust object, changed by
    every call (and tokenizer.json files may ship with both on): chunking must neither see nor disturb them.
    """
    with _BACKENDS_LOCK:
        try:
            cached = _BACKENDS.get(tokenizer)
        except TypeError:
            cached = None
        if cached is not None:
            return cached
        source = getattr(tokenizer, "backend_tokenizer", None) or getattr(tokenizer, "_tokenizer", None) or tokenizer
        if not hasattr(source, "encode_batch") or not hasattr(source, "to_str"):
            raise TypeError(
                f"a Hugging Face fast tokenizer (or a tokenizers.Tokenizer) is needed, got {type(tokenizer).__name__}"
            )
        from tokenizers import Tokenizer

        backend = Tokenizer.from_str(source.to_str())
        backend.no_truncation()
        backend.no_padding()
        try:
            _BACKENDS[tokenizer] = backend
        except TypeError:
            pass  # not weak-referenceable: copy again next time
        return backend


def _blocks(text: str) -> list[tuple[int, str]]:
    """(offset, block) pieces of about BLOCK_CHARS, each cut just before a whitespace character."""
    pieces: list[tuple[int, str]] = []
    start, size = 0, len(text)
    while start < size:
        end = start + BLOCK_CHARS
        if end >= size:
            end = size
        else:
            found = _WHITESPACE.search(text, end, min(size, end + _BLOCK_SEARCH))
            if found is not None:
                end = found.start()
        pieces.append((start, text[start:end]))
        start = end
    return pieces


@dataclass
class _Tokens:
    starts: np.ndarray  # character offset where each token starts
    ends: np.ndarray  # character offset where each token ends
    word_start: np.ndarray  # True where a token begins a new word (a chunk may start there)

    def __len__(self) -> int:
        return len(self.starts)


def _encoded(blocks: list[tuple[int, str]], backend: Any) -> Iterator[tuple[int, Any]]:
    """(offset, encoding) of each block, encoded a group at a time: a long text never has all of its
    Rust encodings (tens of bytes a token) alive at once."""
    for first in range(0, len(blocks), _ENCODE_GROUP):
        group = blocks[first : first + _ENCODE_GROUP]
        encodings = backend.encode_batch([block for _, block in group], add_special_tokens=False)
        yield from zip((base for base, _ in group), encodings, strict=True)


def _tokenize(text: str, tokenizer: Any) -> _Tokens:
    backend = _backend(tokenizer)
    starts: list[np.ndarray] = []
    ends: list[np.ndarray] = []
    word_starts: list[np.ndarray] = []
    for base, encoding in _encoded(_blocks(text), backend):
        pairs = encoding.offsets
        if not pairs:
            continue
        offsets = np.fromiter(chain.from_iterable(pairs), dtype=np.int64, count=2 * len(pairs)).reshape(-1, 2) + base
        word_ids = encoding.word_ids
        try:
            words = np.array(word_ids, dtype=np.int64)
        except TypeError:  # None for tokens outside any word
            words = np.fromiter((-1 if w is None else w for w in word_ids), dtype=np.int64, count=len(word_ids))
        keep = offsets[:, 1] > offsets[:, 0]  # zero-width tokens have no text to cut at
        offsets, words = offsets[keep], words[keep]
        if not len(offsets):
            continue
        first = np.ones(len(offsets), dtype=bool)  # a block starts at whitespace, hence with a new word
        first[1:] = (words[1:] != words[:-1]) | (words[1:] < 0) | (offsets[1:, 0] > offsets[:-1, 1])
        starts.append(offsets[:, 0])
        ends.append(offsets[:, 1])
        word_starts.append(first)
    if not starts:
        empty = np.zeros(0, dtype=np.int64)
        return _Tokens(empty, empty, np.zeros(0, dtype=bool))
    return _Tokens(np.concatenate(starts), np.concatenate(ends), np.concatenate(word_starts))


def tokenizer_json(tokenizer: Any) -> str:
    """`tokenizer` as tokenizers JSON, to rebuild it in another process (`tokenizers.Tokenizer.from_str`)."""
    return str(_backend(tokenizer).to_str())


def count_tokens(text: str, tokenizer: Any) -> int:
    """How many tokens `tokenizer` makes of `text`, without special tokens (as `chunk_text` counts them)."""
    if not text:
        return 0
    return len(_tokenize(text, tokenizer))


# ---------------------------------------------------------------------------------------------------------------
# Windows


def _cut_rank(text: str, tokens: _Tokens, j: int) -> int:
    """How good a place the boundary between tokens j-1 and j is to end a chunk."""
    prev_end = int(tokens.ends[j - 1])
    next_start = int(tokens.starts[j])
    next_end = int(tokens.ends[j])
    while next_start < next_end and text[next_start].isspace():  # tokens that carry their leading space
        next_start += 1
    gap = text[prev_end:next_start]
    last = text[prev_end - 1]
    sentence_end = last in _CJK_SENTENCE_END or (
        bool(gap)
        and (last in _SENTENCE_END or (last in _CLOSING and prev_end >= 2 and text[prev_end - 2] in _SENTENCE_END))
    )
    if "\n" in gap:
        if _PARAGRAPH.search(gap):
            return _PARAGRAPH_BREAK
        return _SENTENCE_BREAK if sentence_end else _LINE_BREAK
    if sentence_end:
        return _SENTENCE_BREAK
    if gap or tokens.word_start[j]:
        return _WORD_BREAK
    return _NO_BREAK


def _best_cut(text: str, tokens: _Tokens, lowest: int, highest: int) -> int:
    """The token index in [lowest, highest] to end a window before: best rank, then the latest."""
    best, best_rank = highest, -1
    for j in range(highest, lowest - 1, -1):
        rank = _cut_rank(text, tokens, j)
        if rank > best_rank:
            best, best_rank = j, rank
            if rank == _PARAGRAPH_BREAK:
                break
    return best


def _page_finder(pages: Sequence[tuple[int, int, int]]) -> Any:
    if not pages:
        return lambda _: 0
    ordered = sorted((int(start), int(end), int(number)) for number, start, end in pages)
    for start, end, number in ordered:
        if end < start:
            raise ValueError(f"page {number} ends ({end}) before it starts ({start})")
    ends = [end for _, end, _ in ordered]

    def page_of(position: int) -> int:
        # The page holding `position`; in a gap between pages, the page after it; past the end, the last.
        i = bisect.bisect_right(ends, position)
        return ordered[min(i, len(ordered) - 1)][2]

    return page_of


# ---------------------------------------------------------------------------------------------------------------
# Sections


@dataclass(frozen=True)
class _Sections:
    """Where each section starts (sorted), its path of titles, and whether it is bare (its heading alone)."""

    starts: list[int]
    paths: list[tuple[str, ...]]
    bare: list[bool]

    def at(self, start: int, end: int) -> tuple[str, ...]:
        """The path of the section in which text[start:end] starts, bare sections at its start skipped (() before
        the first heading)."""
        i = bisect.bisect_right(self.starts, start) - 1
        while i >= 0 and self.bare[i] and i + 1 < len(self.starts) and self.starts[i + 1] < end:
            i += 1
        return self.paths[i] if i >= 0 else ()


_BARE_REST = re.compile(r"\s*(?:(?:=+|-+)[^\S\n]*(?:\n\s*)?)?")  # after a heading's line: nothing, or an underline


def _bare(text: str, starts: list[int]) -> list[bool]:
    """Whether each section holds nothing but its heading's line (a heading directly followed by the next)."""
    out = []
    for k, start in enumerate(starts):
        stop = starts[k + 1] if k + 1 < len(starts) else len(text)
        line_end = text.find("\n", start, stop)
        out.append(line_end < 0 or _BARE_REST.fullmatch(text, line_end, stop) is not None)
    return out


def _title(value: object) -> str:
    return " ".join(str(value).split())[:MAX_SECTION_TITLE_CHARS]


def _sections(headings: Sequence[tuple[int, str, int]], size: int, text: str = "") -> _Sections:
    """The section tree of `headings` (level, title, char_start): a heading closes the open sections of its
    level and deeper. Headings without a title or outside the text are ignored; of several at one position,
    the last one's path holds (a parent and its first child at one spot: the child's path)."""
    ordered = sorted(
        ((int(start), n, max(1, int(level)), _title(title)) for n, (level, title, start) in enumerate(headings)),
        key=lambda h: (h[0], h[1]),
    )
    stack: list[tuple[int, str]] = []
    starts: list[int] = []
    paths: list[tuple[str, ...]] = []
    for start, _, level, title in ordered:
        if not title or not 0 <= start <= size:
            continue
        while stack and stack[-1][0] >= level:
            stack.pop()
        stack.append((level, title))
        path = tuple(t for _, t in stack)
        if starts and starts[-1] == start:
            paths[-1] = path
        else:
            starts.append(start)
            paths.append(path)
    return _Sections(starts, paths, _bare(text, starts) if text else [False] * len(starts))


def section_label(path: Sequence[str]) -> str:
    """A section path as stored and shown: its titles joined by SECTION_SEPARATOR, at most MAX_SECTION_BYTES."""
    label = SECTION_SEPARATOR.join(path)
    raw = label.encode()
    return label if len(raw) <= MAX_SECTION_BYTES else raw[:MAX_SECTION_BYTES].decode(errors="ignore").rstrip()


def section_paths(headings: Sequence[tuple[int, str, int]], size: int) -> list[tuple[int, str]]:
    """(char_start, section label) for each section `headings` open in a text of `size` characters."""
    sections = _sections(headings, size)
    return [(start, section_label(path)) for start, path in zip(sections.starts, sections.paths, strict=True)]


def _segments(tokens: _Tokens, sections: _Sections) -> list[tuple[int, int, tuple[str, ...]]]:
    """(first token, end token, path) of every section that has tokens, the text before the first heading too."""
    cuts = [int(i) for i in np.searchsorted(tokens.starts, np.asarray(sections.starts, dtype=np.int64), "left")]
    bounds = [0, *cuts, len(tokens)]
    paths: list[tuple[str, ...]] = [(), *sections.paths]
    return [(a, b, path) for a, b, path in zip(bounds[:-1], bounds[1:], paths, strict=True) if b > a]


def _under(path: tuple[str, ...], ancestor: tuple[str, ...]) -> bool:
    return path[: len(ancestor)] == ancestor


def _groups(
    segments: list[tuple[int, int, tuple[str, ...]]], max_tokens: int, merge_below: int
) -> Iterator[tuple[int, int]]:
    """Token ranges of the section groups (see the module docstring).

    A group starts at a section F and, while it is smaller than `merge_below` tokens, takes in the next section S
    when the two fit in `max_tokens` and S is either inside F, or (as long as nothing inside F joined) a later
    section under F's parent that has no subsections of its own. A group that is F alone is also joined to F's
    first subsection when the two do not fit together (they are windowed as one), so that a heading never ends
    up alone in a chunk of its own. The text before the first heading is a section with no inside.
    """
    count = len(segments)

    def inside(path: tuple[str, ...], ancestor: tuple[str, ...]) -> bool:
        return bool(ancestor) and len(path) > len(ancestor) and _under(path, ancestor)

    i = 0
    while i < count:
        first, end, path = segments[i]
        parent, flat, alone = path[:-1], True, True
        i += 1
        while i < count and end - first < merge_below:
            _, following_end, following = segments[i]
            within = inside(following, path)
            if not within:
                opens = i + 1 < count and inside(segments[i + 1][2], following)
                if not flat or opens or not _under(following, parent):
                    break
            if following_end - first > max_tokens:
                if within and alone:
                    end, i = following_end, i + 1
                break
            end, i = following_end, i + 1
            flat, alone = flat and not within, False
        yield first, end


# ---------------------------------------------------------------------------------------------------------------
# Chunking


def _windows(
    text: str, tokens: _Tokens, first: int, stop: int, max_tokens: int, overlap_tokens: int
) -> Iterator[tuple[int, int]]:
    """Token ranges [start, end) of the windows over tokens first..stop (see the module docstring)."""
    tail = max(1, max_tokens // 5)  # where a window looks for a better place to end
    start = first
    while True:
        limit = start + max_tokens
        end = stop if limit >= stop else _best_cut(text, tokens, limit - tail, limit)
        yield start, end
        if end >= stop:
            return
        following = end - overlap_tokens
        if overlap_tokens and not tokens.word_start[following]:
            floor = max(start + 1, following - _SNAP_TOKENS)
            snapped = following
            while snapped > floor and not tokens.word_start[snapped]:
                snapped -= 1
            if tokens.word_start[snapped]:
                following = snapped
        start = following


def chunk_text(
    text: str,
    tokenizer: Any,
    max_tokens: int,
    overlap_tokens: int,
    pages: Sequence[tuple[int, int, int]] = (),
    headings: Sequence[tuple[int, str, int]] = (),
    mode: str = DEFAULT_CHUNKING_MODE,
) -> list[Chunk]:
    """Split `text` into chunks of at most `max_tokens` tokens of `tokenizer`, consecutive ones sharing
    `overlap_tokens` tokens. `pages` are (page_number, char_start, char_end) spans of `text`; `headings` are
    (level, title, char_start), level 1 the top; `mode` is one of CHUNKING_MODES (see the module docstring).

    Raises ValueError unless max_tokens >= 16, 0 <= overlap_tokens <= max_tokens // 2 and mode is known.
    """
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < MIN_CHUNK_TOKENS:
        raise ValueError(f"max_tokens must be an integer of at least {MIN_CHUNK_TOKENS}, got {max_tokens!r}")
    if (
        isinstance(overlap_tokens, bool)
        or not isinstance(overlap_tokens, int)
        or not 0 <= overlap_tokens <= max_tokens // 2
    ):
        raise ValueError(f"overlap_tokens must be between 0 and {max_tokens // 2}, got {overlap_tokens!r}")
    if mode not in CHUNKING_MODES:
        raise ValueError(f"mode must be one of {', '.join(CHUNKING_MODES)}, got {mode!r}")
    page_of = _page_finder(pages)
    if not text or text.isspace():
        return []
    tokens = _tokenize(text, tokenizer)
    count = len(tokens)
    if not count:
        return []
    sections = _sections(headings, len(text), text)
    if mode == "section" and sections.starts:
        ranges: Iterator[tuple[int, int]] = (
            window
            for first, stop in _groups(_segments(tokens, sections), max_tokens, max_tokens // SECTION_MERGE_FRACTION)
            for window in _windows(text, tokens, first, stop, max_tokens, overlap_tokens)
        )
    else:
        ranges = _windows(text, tokens, 0, count, max_tokens, overlap_tokens)
    labels: dict[tuple[str, ...], str] = {}
    chunks: list[Chunk] = []
    for start, end in ranges:
        char_start, char_end = int(tokens.starts[start]), int(tokens.ends[end - 1])
        while char_start < char_end and text[char_start].isspace():
            char_start += 1
        while char_end > char_start and text[char_end - 1].isspace():
            char_end -= 1
        path = sections.at(char_start, char_end)
        label = labels.get(path)
        if label is None:
            label = labels[path] = section_label(path)
        chunks.append(
            Chunk(
                index=len(chunks),
                text=text[char_start:char_end],
                token_count=end - start,
                char_start=char_start,
                char_end=char_end,
                page=page_of(char_start),
                section=label,
            )
        )
    return chunks
