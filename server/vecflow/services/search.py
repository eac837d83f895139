"""Checks shared by every search RPC (vector stores and upsertion collections)."""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from typing import Any

from vecflow.errors import InvalidArgument, Unavailable
from vecflow.pipeline.embed import Embedder
from vecflow.services.filters import FilterError, columns, parse_filter
from vecflow.vectors.milvus import Hit, InvalidFilterError, VectorIndexError, render_filter

MODES = ("dense", "keyword", "hybrid")
MAX_QUERY_CHARS = 8192
DEFAULT_RESULTS = 10
MAX_WEIGHT = 1e6  # fusion weights are relative; this keeps their sum finite


def check_search(
    query: str,
    max_num_results: int,
    limit: int,
    mode: str,
    dense_weight: float,
    keyword_weight: float,
    score_threshold: float = 0.0,
) -> int:
    """Validate a search request; returns how many results to fetch."""
    if not query.strip():
        raise InvalidArgument.field("query", "is required")
    if len(query) > MAX_QUERY_CHARS:
        raise InvalidArgument.field("query", f"must be at most {MAX_QUERY_CHARS} characters, got {len(query)}")
    if not 0 <= max_num_results <= limit:
        raise InvalidArgument.field(
            "max_num_results",
            f"must be between 1 and {limit} (VECFLOW_MAX_SEARCH_RESULTS), got {max_num_results}",
        )
    if mode not in MODES:
        raise InvalidArgument.field("ranking_options.mode", f"must be one of {', '.join(MODES)}")
    for name, weight in (("dense_weight", dense_weight), ("keyword_weight", keyword_weight)):
        if not math.isfinite(weight) or not 0 <= weight <= MAX_WEIGHT:
            raise InvalidArgument.field(
                f"ranking_options.{name}", f"must be a number between 0 and {MAX_WEIGHT:g}, got {weight}"
            )
    if not math.isfinite(score_threshold):
        raise InvalidArgument.field(
            "ranking_options.score_threshold", f"must be a finite number, got {score_threshold}"
        )
    return max_num_results or DEFAULT_RESULTS


def milvus_filter(text: str, **options: Any) -> str:
    """The filter as a Milvus expression (parsed by services/filters.py, rendered by vectors/milvus/filters.py);
    INVALID_ARGUMENT when it does not parse."""
    try:
        return render_filter(parse_filter(text, **options))
    except FilterError as err:
        raise InvalidArgument.field("filter", str(err), reason="INVALID_FILTER") from None


def filter_columns(text: str, **options: Any) -> set[str]:
    """The columns a filter reads (call after `milvus_filter` accepted it)."""
    try:
        return columns(parse_filter(text, **options))
    except FilterError:
        return set()


async def run_search(
    embedder: Embedder,
    query: str,
    mode: str,
    score_threshold: float,
    search: Callable[[list[float] | None, str | None], Awaitable[list[Hit]]],
) -> list[Hit]:
    """Embed the query when the mode needs it, call `search(dense, text)`, and map index errors:
    a filter Milvus rejects is INVALID_ARGUMENT, an index that cannot answer is UNAVAILABLE."""
    dense = (await embedder.embed([query]))[0] if mode != "keyword" else None
    try:
        hits = await search(dense, query if mode != "dense" else None)
    except InvalidFilterError as err:
        raise InvalidArgument.field(
            "filter", f"the search engine rejected it: {err}", reason="INVALID_FILTER"
        ) from None
    except VectorIndexError as err:
        raise Unavailable(
            f"the vector index could not run the search: {err}", reason="VECTOR_INDEX_UNAVAILABLE"
        ) from None
    return [h for h in hits if h.score >= score_threshold] if score_threshold else hits
