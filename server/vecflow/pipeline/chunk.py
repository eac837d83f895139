"""Chunking: cut a document's text into overlapping windows of model tokens, at exact character positions.

The text is tokenised once with the embedding model's own (fast) tokenizer, keeping each token's character
offsets. A window of `max_tokens` tokens slides over them; consecutive chunks share `overlap_tokens` tokens.
A window prefers to end at a paragraph break, then a sentence end, then a line break, then a word boundary,
if one lies in its last fifth; the next window starts `overlap_tokens` tokens before that cut (moved back a
few tokens when that would be inside a word, so no chunk starts mid-word). Each chunk's text is a slice of the
original string, so `text[chunk.char_start:chunk.char_end] == chunk.text` always holds.

Long texts are tokenised in blocks of about 32 KiB cut at whitespace (the Rust tokenizer encodes the blocks in
parallel), so a 10 MB text takes seconds. The result depends only on the text, the tokenizer and the sizes.
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
    `char_start` (0 when the document has no pages)."""

    index: int
    text: str
    token_count: int
    char_start: int
    char_end: int
    page: int


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


def chunk_text(
    text: str,
    tokenizer: Any,
    max_tokens: int,
    overlap_tokens: int,
    pages: Sequence[tuple[int, int, int]] = (),
) -> list[Chunk]:
    """Split `text` into chunks of at most `max_tokens` tokens of `tokenizer`, consecutive ones sharing
    `overlap_tokens` tokens. `pages` are (page_number, char_start, char_end) spans of `text`.

    Raises ValueError unless max_tokens >= 16 and 0 <= overlap_tokens <= max_tokens // 2.
    """
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < MIN_CHUNK_TOKENS:
        raise ValueError(f"max_tokens must be an integer of at least {MIN_CHUNK_TOKENS}, got {max_tokens!r}")
    if (
        isinstance(overlap_tokens, bool)
        or not isinstance(overlap_tokens, int)
        or not 0 <= overlap_tokens <= max_tokens // 2
    ):
        raise ValueError(f"overlap_tokens must be between 0 and {max_tokens // 2}, got {overlap_tokens!r}")
    page_of = _page_finder(pages)
    if not text or text.isspace():
        return []
    tokens = _tokenize(text, tokenizer)
    count = len(tokens)
    if not count:
        return []
    tail = max(1, max_tokens // 5)  # where a window looks for a better place to end
    chunks: list[Chunk] = []
    start = 0
    while True:
        limit = start + max_tokens
        end = count if limit >= count else _best_cut(text, tokens, limit - tail, limit)
        char_start, char_end = int(tokens.starts[start]), int(tokens.ends[end - 1])
        while char_start < char_end and text[char_start].isspace():
            char_start += 1
        while char_end > char_start and text[char_end - 1].isspace():
            char_end -= 1
        chunks.append(
            Chunk(
                index=len(chunks),
                text=text[char_start:char_end],
                token_count=end - start,
                char_start=char_start,
                char_end=char_end,
                page=page_of(char_start),
            )
        )
        if end >= count:
            return chunks
        following = end - overlap_tokens
        if overlap_tokens and not tokens.word_start[following]:
            floor = max(start + 1, following - _SNAP_TOKENS)
            snapped = following
            while snapped > floor and not tokens.word_start[snapped]:
                snapped -= 1
            if tokens.word_start[snapped]:
                following = snapped
        start = following
