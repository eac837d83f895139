"""Reads: dense, BM25 (keyword) and hybrid search with their checks, and counts."""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from vecflow.vectors.milvus.client import load_pymilvus
from vecflow.vectors.milvus.dense import dense_search_params
from vecflow.vectors.milvus.errors import PARAMETER_INVALID, InvalidFilterError, error_message, invalid, wrap
from vecflow.vectors.milvus.expressions import caller_filter, scope
from vecflow.vectors.milvus.rows import dense_vector, public_pk

if TYPE_CHECKING:
    from pymilvus import MilvusClient

SearchMode = Literal["dense", "keyword", "hybrid"]

MAX_LIMIT = 16384  # Milvus' topk ceiling
RRF_K = 60

log = logging.getLogger("vecflow.vectors.milvus")


@dataclass(frozen=True, slots=True)
class Hit:
    """One search result: the row's pk, its score (higher is better) and the requested output fields.

    Scores: cosine similarity (dense), BM25 (keyword), RRF or normalised weighted sum (hybrid).
    """

    pk: str
    score: float
    fields: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SearchRequest:
    """A checked search of one tenant's rows of a collection, ready for `search_sync`."""

    collection: str
    tenant: dict[str, str]
    output: tuple[str, ...]
    expr: str
    has_caller_filter: bool
    vector: list[float] | None
    query: str
    mode: str
    limit: int
    weights: tuple[float, float] | None


def search_request(
    collection: str,
    tenant: dict[str, str],
    output: tuple[str, ...],
    dim: int,
    *,
    dense: Sequence[float] | None,
    text: str | None,
    mode: str,
    limit: int,
    filter_expr: str,
    dense_weight: float,
    keyword_weight: float,
) -> SearchRequest:
    """Check a search's arguments (INVALID_ARGUMENT, or InvalidFilterError for `filter_expr`) and scope it."""
    if mode not in ("dense", "keyword", "hybrid"):
        raise invalid(f"mode must be dense, keyword or hybrid, got {mode!r}")
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise invalid(f"limit must be an integer between 1 and {MAX_LIMIT}, got {limit!r}")
    vector = dense_vector(dense, dim, "dense") if mode != "keyword" else None
    query = text or ""
    if mode == "keyword" and text is None:
        raise invalid("keyword search needs text")
    if not isinstance(query, str):
        raise invalid(f"text must be a string, got {type(query).__name__}")
    if mode == "hybrid" and not query.strip():
        mode = "dense"  # nothing for BM25 to match
    weights: tuple[float, float] | None = None
    for name, w in (("dense_weight", dense_weight), ("keyword_weight", keyword_weight)):
        if isinstance(w, bool) or not isinstance(w, int | float) or not math.isfinite(w) or w < 0:
            raise invalid(f"{name} must be a number >= 0, got {w!r}")
    if dense_weight > 0 and keyword_weight > 0:
        total = float(dense_weight + keyword_weight)
        weights = (dense_weight / total, keyword_weight / total)  # Milvus wants each weight in [0, 1]
    tenant_scope = scope(**tenant)
    caller = caller_filter(filter_expr)
    expr = f"{tenant_scope} and {caller}" if caller else tenant_scope
    return SearchRequest(collection, tenant, output, expr, bool(caller), vector, query, mode, limit, weights)


def search_sync(client: MilvusClient, opts: dict[str, Any], index_type: str, request: SearchRequest) -> list[Hit]:
    """Run `request` (blocking); hits outside the tenant's scope are dropped."""
    pm = load_pymilvus()
    collection, tenant, expr = request.collection, request.tenant, request.expr
    vector, query, mode, limit, weights = request.vector, request.query, request.mode, request.limit, request.weights
    fields = [*tenant, *request.output]
    bm25 = {"metric_type": "BM25", "params": {}}
    common: dict[str, Any] = {"output_fields": fields, "consistency_level": "Strong", **opts}
    try:
        if mode == "dense":
            res = client.search(
                collection,
                data=[vector],
                anns_field="dense",
                search_params=dense_search_params(index_type, limit),
                filter=expr,
                limit=limit,
                **common,
            )
        elif mode == "keyword":
            if not query.strip():
                res = [[]]
            else:
                res = client.search(
                    collection,
                    data=[query],
                    anns_field="sparse",
                    search_params=bm25,
                    filter=expr,
                    limit=limit,
                    **common,
                )
        else:
            k = min(MAX_LIMIT, max(2 * limit, 20))
            requests = [
                pm.AnnSearchRequest(
                    data=[vector], anns_field="dense", param=dense_search_params(index_type, k), limit=k, expr=expr
                ),
                pm.AnnSearchRequest(data=[query], anns_field="sparse", param=bm25, limit=k, expr=expr),
            ]
            ranker = pm.WeightedRanker(*weights, norm_score=True) if weights else pm.RRFRanker(RRF_K)
            res = client.hybrid_search(collection, requests, ranker, limit=limit, **common)
    except Exception as exc:
        if (
            mode != "dense"
            and "Invalid sparse row" in error_message(exc)
            and not count_sync(client, opts, collection, "")
        ):
            return []  # BM25 has no statistics before a collection's first row: nothing to find yet
        problem = _filter_problem(client, opts, collection, expr) if request.has_caller_filter else None
        if problem is not None:
            raise InvalidFilterError(f"invalid filter expression: {problem}") from exc
        raise wrap(exc, f"searching {collection}") from exc
    hits = []
    raw_hits = list(res[0]) if res else []
    for raw in raw_hits:
        entity = dict(raw.get("entity") or {})
        if any(entity.pop(name, None) != value for name, value in tenant.items()):
            log.error("Milvus returned a row outside the search scope; dropped", extra={"pk": raw.get("id")})
            continue
        hits.append(Hit(pk=public_pk(raw["id"]), score=float(raw["distance"]), fields=entity))
    return hits


def count_sync(client: MilvusClient, opts: dict[str, Any], collection: str, expr: str) -> int:
    """How many rows of `collection` match `expr` (blocking; Strong consistency)."""
    try:
        res = client.query(collection, filter=expr, output_fields=["count(*)"], consistency_level="Strong", **opts)
    except Exception as exc:
        raise wrap(exc, f"counting in {collection}") from exc
    return int(res[0]["count(*)"]) if res else 0


def _filter_problem(client: MilvusClient, opts: dict[str, Any], collection: str, expr: str) -> str | None:
    """Milvus' complaint about `expr` if a one-row query with it fails as a parameter error, else None."""
    try:
        client.query(collection, filter=expr, limit=1, output_fields=["pk"], **opts)
    except Exception as exc:
        msg = error_message(exc)
        if getattr(exc, "code", None) == PARAMETER_INVALID or "expr" in msg.lower() or "parse" in msg.lower():
            return msg
    return None
