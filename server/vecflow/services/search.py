"""Checks shared by every search RPC (vector stores and upsertion collections)."""

from __future__ import annotations

from vecflow.errors import InvalidArgument

MODES = ("dense", "keyword", "hybrid")
MAX_QUERY_CHARS = 8192
DEFAULT_RESULTS = 10


def check_search(
    query: str, max_num_results: int, limit: int, mode: str, dense_weight: float, keyword_weight: float
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
    if dense_weight < 0 or keyword_weight < 0:
        raise InvalidArgument.field("ranking_options", "weights must not be negative")
    return max_num_results or DEFAULT_RESULTS
