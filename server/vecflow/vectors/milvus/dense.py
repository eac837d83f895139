"""The dense index: the index types VECFLOW_MILVUS_INDEX may name, how ``auto`` decides by asking the server, and
creating the index of a collection that has none (a collection that has one keeps it, never rebuilt)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from vecflow.vectors.milvus.errors import VectorIndexError, error_message, wrap

if TYPE_CHECKING:
    from pymilvus import MilvusClient

SETTING = "VECFLOW_MILVUS_INDEX"
INDEX_TYPES = ("FLAT", "HNSW", "IVF_FLAT", "AUTOINDEX")  # config.MILVUS_INDEX_CHOICES: "auto" and these
DENSE_FIELD = "dense"
_BUILD: dict[str, dict[str, Any]] = {"HNSW": {"M": 16, "efConstruction": 200}, "IVF_FLAT": {"nlist": 1024}}

log = logging.getLogger("vecflow.vectors.milvus")


LITE_BUILDS = frozenset({"FLAT", "IVF_FLAT", "AUTOINDEX"})  # what milvus-lite's engine builds (no HNSW)


def lite_refusal(index_type: str) -> str | None:
    """Why milvus-lite's engine cannot build the explicit `index_type`, or None when it can (or "auto")."""
    if index_type == "auto" or index_type in LITE_BUILDS:
        return None
    return (
        f"{SETTING}={index_type}, but milvus-lite's engine builds only {', '.join(sorted(LITE_BUILDS))}: set "
        f"{SETTING} to auto (FLAT here) or to one of those, or point VECFLOW_MILVUS_URI at a Milvus server"
    )


def server_version(client: MilvusClient, opts: dict[str, Any]) -> str | None:
    """The version of the Milvus server behind `client`; None for milvus-lite's engine (no GetVersion)."""
    try:
        return str(client.get_server_version(**opts))
    except Exception as exc:
        if _status_name(exc) != "UNIMPLEMENTED":
            raise
        return None


def resolve_index_type(index_type: str) -> str:
    """ "auto", or the index type `index_type` names (in any case); anything else is a ValueError."""
    wanted = index_type.strip().upper() if isinstance(index_type, str) else ""
    if wanted == "AUTO":
        return "auto"
    if wanted not in INDEX_TYPES:
        raise ValueError(f"index_type must be auto or one of {', '.join(INDEX_TYPES)}, got {index_type!r}")
    return wanted


@dataclass
class DenseChoice:
    """The dense index type new collections get, and why; `auto` when the server's answers decided it."""

    index_type: str
    reason: str
    auto: bool


def _status_name(exc: BaseException) -> str:
    code = getattr(exc, "code", None)
    if callable(code):  # a raw grpc.RpcError
        try:
            code = code()
        except Exception:
            return ""
    return str(getattr(code, "name", code))


def choose(client: MilvusClient, requested: str, opts: dict[str, Any]) -> DenseChoice:
    """What new collections get: an explicit `requested` type as given; for "auto", ask the server its version.

    milvus-lite's engine (a ``.db`` file, or its TCP server) does not implement GetVersion and builds only FLAT,
    IVF_FLAT and AUTOINDEX, so it gets FLAT (it searches exactly anyway); a server that answers is a Milvus
    server, which builds HNSW. Any other failure of the probe is the caller's to report.
    """
    if requested != "auto":
        return DenseChoice(requested, f"{SETTING}={requested}", auto=False)
    version = server_version(client, opts)
    if version is None:
        return DenseChoice(
            "FLAT",
            f"{SETTING}=auto: the server does not implement GetVersion, so it is milvus-lite's engine, "
            "which cannot build HNSW",
            auto=True,
        )
    return DenseChoice("HNSW", f"{SETTING}=auto: the server answered GetVersion ({version}), so HNSW", auto=True)


def dense_index_params(client: MilvusClient, index_type: str) -> Any:
    """The dense index of a collection: `index_type`, COSINE, named after its field."""
    params = client.prepare_index_params()
    params.add_index(
        field_name=DENSE_FIELD,
        index_name=DENSE_FIELD,
        index_type=index_type,
        metric_type="COSINE",
        params=_BUILD.get(index_type, {}),
    )
    return params


def dense_search_params(index_type: str, k: int) -> dict[str, Any]:
    """The search parameters of a dense index of `index_type` for `k` results."""
    params: dict[str, Any] = {}
    if index_type == "HNSW":
        params = {"ef": max(k, 64)}
    elif index_type == "IVF_FLAT":
        params = {"nprobe": 32}
    return {"metric_type": "COSINE", "params": params}


def dense_index_type(client: MilvusClient, collection: str, opts: dict[str, Any]) -> str | None:
    """The index type of `collection`'s dense field, None while it has no index."""
    if DENSE_FIELD not in client.list_indexes(collection, field_name=DENSE_FIELD, **opts):
        return None
    described = client.describe_index(collection, DENSE_FIELD, **opts) or {}
    return str(described.get("index_type") or "") or None


def _refused_type(exc: BaseException) -> bool:
    return "invalid index type" in error_message(exc).lower()


def ensure_dense(client: MilvusClient, collection: str, choice: DenseChoice, opts: dict[str, Any]) -> tuple[str, str]:
    """The dense index type of `collection` and why it has it, creating the index `choice` names when it has none.

    An existing index is kept (a different `choice` only logs a warning). Under "auto", a server that refuses
    HNSW after all gets FLAT, and `choice` says so from then on. An explicit type the server refuses is a
    VectorIndexError naming VECFLOW_MILVUS_INDEX.
    """
    existing = dense_index_type(client, collection, opts)
    if existing is not None:
        if not choice.auto and existing != choice.index_type:
            log.warning(
                "Milvus collection %s keeps its %s dense index although %s=%s (indexes are never rebuilt; "
                "drop the collection and re-index to change it)",
                collection,
                existing,
                SETTING,
                choice.index_type,
            )
        return existing, f"{collection} already has a {existing} index, kept (new collections: {choice.reason})"
    try:
        client.create_index(collection, dense_index_params(client, choice.index_type), sync=False, **opts)
        return choice.index_type, choice.reason
    except Exception as exc:
        raced = dense_index_type(client, collection, opts)  # another replica created it meanwhile
        if raced is not None:
            return raced, f"{collection} got a {raced} index from another client, kept (ours: {choice.reason})"
        if wrap(exc, "").reason == "UNAVAILABLE":
            raise
        if choice.auto and choice.index_type != "FLAT" and _refused_type(exc):
            log.warning("the Milvus server refused %s: %s; using FLAT", choice.index_type, error_message(exc))
            choice.reason = f"{SETTING}=auto: the server refused {choice.index_type} ({error_message(exc)}), so FLAT"
            choice.index_type = "FLAT"
            client.create_index(collection, dense_index_params(client, "FLAT"), sync=False, **opts)
            return choice.index_type, choice.reason
        raise VectorIndexError(
            f"the Milvus server refused the dense index {choice.index_type} of {collection} ({choice.reason}): "
            f"{error_message(exc)}; set {SETTING} to auto or to an index type this server builds"
        ) from exc
