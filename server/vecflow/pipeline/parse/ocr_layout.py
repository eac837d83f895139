"""Reading order for OCR output: text boxes on a page → lines, paragraphs and columns, as a person reads them.

An OCR engine finds text lines as boxes; sorting them top to bottom would interleave the lines of two columns.
`page_text` groups the boxes into bands (boxes whose heights overlap), finds runs of bands that share a gutter
(an empty vertical strip with prose on both sides, three lines or more) and reads such a run column by column,
each column in turn the same way; everything else is read band by band, left to right. A vertical gap larger
than about a line's height starts a new paragraph (a blank line).
"""

from __future__ import annotations

import itertools
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

_MAX_DEPTH = 4  # columns within columns


@dataclass(frozen=True)
class TextBox:
    """One line (or line segment) of text the engine read, with its bounding box in pixels."""

    x0: float
    y0: float
    x1: float
    y1: float
    text: str
    confidence: float
    line_height: float = 0.0  # the text's own height when the box is skewed (a tilted scan), else 0

    @property
    def height(self) -> float:
        return self.line_height or (self.y1 - self.y0)


def page_text(boxes: Sequence[TextBox]) -> str:
    """The text of the page's `boxes` in reading order: lines joined by newlines, paragraphs by blank lines."""
    boxes = [b for b in boxes if b.text.strip()]
    if not boxes:
        return ""
    unit = statistics.median(b.height for b in boxes) or 1.0
    return "\n\n".join(_block_text(block, unit) for block in _blocks(boxes, unit, 0))


def _bands(boxes: Sequence[TextBox]) -> list[list[TextBox]]:
    """Boxes grouped into horizontal bands: a box joins the band above when their heights overlap enough."""
    bands: list[list[TextBox]] = []
    bottom = 0.0
    for box in sorted(boxes, key=lambda b: (b.y0, b.x0)):
        if bands and box.y0 < bottom - 0.35 * box.height:
            bands[-1].append(box)
            bottom = max(bottom, box.y1)
        else:
            bands.append([box])
            bottom = box.y1
    return bands


def _free(band: Sequence[TextBox], low: float, high: float) -> list[tuple[float, float]]:
    """The parts of the x-interval [low, high] that no box of `band` covers."""
    spans: list[tuple[float, float]] = []
    start = low
    for box in sorted(band, key=lambda b: b.x0):
        if box.x1 <= start:
            continue
        if box.x0 >= high:
            break
        if box.x0 > start:
            spans.append((start, box.x0))
        start = max(start, box.x1)
    if start < high:
        spans.append((start, high))
    return spans


def _gaps(band: Sequence[TextBox], min_gap: float) -> list[tuple[float, float]]:
    """Gaps at least `min_gap` wide between the boxes of a band (not the margins)."""
    left = min(b.x0 for b in band)
    right = max(b.x1 for b in band)
    return [(a, b) for a, b in _free(band, left, right) if b - a >= min_gap]


def _two_sided(band: Sequence[TextBox], gutter: tuple[float, float]) -> bool:
    return any(b.x1 <= gutter[0] for b in band) and any(b.x0 >= gutter[1] for b in band)


def _region(bands: Sequence[Sequence[TextBox]], start: int, unit: float) -> tuple[int, tuple[float, float]] | None:
    """A run of columns from band `start`: (the band after the run, the gutter), or None."""
    min_gutter = 0.5 * unit
    for gap in _gaps(bands[start], min_gutter):
        gutter = gap
        end = start + 1
        last_two_sided = start
        sides = 1
        while end < len(bands):
            overlapping = [s for s in _free(bands[end], *gutter) if s[1] - s[0] >= min_gutter]
            if not overlapping:
                break
            narrowed = max(overlapping, key=lambda s: s[1] - s[0])
            if _two_sided(bands[end], narrowed):
                sides += 1
                last_two_sided = end
            elif bands[end][0].y0 - max(b.y1 for b in bands[end - 1]) > 1.2 * unit:
                break  # a one-sided line after a gap: a heading below the columns, not part of them
            gutter = narrowed
            end += 1
        if sides < 3:
            continue
        members = [b for band in bands[start : last_two_sided + 1] for b in band]
        left = [b for b in members if b.x1 <= gutter[0]]
        right = [b for b in members if b.x0 >= gutter[1]]
        if not (_prose(left, unit) and _prose(right, unit)):
            continue
        # One-sided lines after the last two-sided one stay while they follow on as closely as the columns'
        # lines do (a longer column); a larger gap ends the run (a heading below the columns).
        spacing = statistics.median([*_line_gaps(left), *_line_gaps(right)] or [0.0])
        bottoms = {"left": max(b.y1 for b in left), "right": max(b.y1 for b in right)}
        stop = last_two_sided + 1
        while stop < end:
            side = "left" if all(b.x1 <= gutter[0] for b in bands[stop]) else "right"
            if min(b.y0 for b in bands[stop]) - bottoms[side] > spacing + 0.5 * unit:
                break
            bottoms[side] = max(b.y1 for b in bands[stop])
            stop += 1
        return stop, gutter
    return None


def _line_gaps(column: Sequence[TextBox]) -> list[float]:
    ordered = sorted(column, key=lambda b: b.y0)
    return [below.y0 - above.y1 for above, below in itertools.pairwise(ordered)]


def _prose(boxes: Sequence[TextBox], unit: float) -> bool:
    """Whether boxes look like running text (long lines), not table cells or form fields."""
    return bool(boxes) and statistics.mean(b.x1 - b.x0 for b in boxes) >= 5 * unit


def _blocks(boxes: Sequence[TextBox], unit: float, depth: int) -> list[list[TextBox]]:
    """The boxes split into blocks in reading order: columns of a multi-column run, or runs of full lines."""
    bands = _bands(boxes)
    blocks: list[list[TextBox]] = []
    pending: list[TextBox] = []
    index = 0
    while index < len(bands):
        region = _region(bands, index, unit) if depth < _MAX_DEPTH else None
        if region is None:
            pending.extend(bands[index])
            index += 1
            continue
        stop, gutter = region
        if pending:
            blocks.append(pending)
            pending = []
        middle = (gutter[0] + gutter[1]) / 2
        members = [b for band in bands[index:stop] for b in band]
        for column in ([b for b in members if b.x1 <= middle], [b for b in members if b.x1 > middle]):
            if column:
                blocks.extend(_blocks(column, unit, depth + 1))
        index = stop
    if pending:
        blocks.append(pending)
    return blocks


def _block_text(block: Sequence[TextBox], unit: float) -> str:
    """The block's bands as lines; a blank line where the gap above a line is half a line more than usual."""
    bands = _bands(block)
    gaps = [min(b.y0 for b in below) - max(b.y1 for b in above) for above, below in itertools.pairwise(bands)]
    usual = statistics.median(gaps) if len(gaps) >= 3 else 0.0
    parts = [" ".join(b.text.strip() for b in sorted(bands[0], key=lambda b: b.x0))]
    for gap, band in zip(gaps, bands[1:], strict=True):
        parts.append("\n\n" if gap > usual + 0.5 * unit else "\n")
        parts.append(" ".join(b.text.strip() for b in sorted(band, key=lambda b: b.x0)))
    return "".join(parts)
