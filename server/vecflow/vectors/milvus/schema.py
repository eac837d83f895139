"""The collections: their schemas (keyword analyzer, BM25 function), index parameters, creating what is missing
(collections, then indexes: the dense one through `dense`) and the check that an existing collection fits this
index. Each keyword analyzer has collections of its own (see `analyzers`).

The chunks' ``section`` field came with vecflow's section paths: a chunks collection created by an earlier
version lacks it and keeps working (without sections: its chunks are written and returned without one, and a
search filtered by section is refused); `ensure_collection` says whether a collection has it."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, Any, Literal

from vecflow.vectors.milvus.analyzers import ANALYZERS, DEFAULT_ANALYZER, collection_for
from vecflow.vectors.milvus.dense import DenseChoice, ensure_dense
from vecflow.vectors.milvus.errors import VectorIndexError, invalid
from vecflow.vectors.milvus.rows import ITEM_PK_BYTES, SECTION_BYTES

if TYPE_CHECKING:
    from pymilvus import MilvusClient

CHUNKS_COLLECTION = "vecflow_chunks"
ITEM_COLLECTIONS = {"default": "vecflow_items_default", "categories": "vecflow_items_categories"}

ItemCollection = Literal["default", "categories"]

CHUNK_OUTPUT = (
    "text",
    "file_id",
    "file_name",
    "chunk_index",
    "page",
    "char_start",
    "char_end",
    "attributes",
    "section",
)
ITEM_OUTPUT = ("object_id", "text", "payload", "item_info")
CHUNK_SCALARS = ("project_id", "vector_store_id", "file_id", "section")  # INVERTED indexes
OPTIONAL_FIELDS = frozenset({"section"})  # fields a collection made by an earlier version may lack
ITEM_SCALARS = ("project_id", "object_id")


def item_collection(collection: str) -> str:
    """The Milvus collection of an item collection ("default" or "categories")."""
    try:
        return ITEM_COLLECTIONS[collection]
    except (KeyError, TypeError):
        raise invalid(f"collection must be one of {sorted(ITEM_COLLECTIONS)}, got {collection!r}") from None


# --- schemas and indexes -----------------------------------------------------------------------------


def _text_fields(pm: ModuleType, schema: Any, dim: int, analyzer: str) -> None:
    dt = pm.DataType
    schema.add_field(
        "text",
        dt.VARCHAR,
        max_length=65535,
        enable_analyzer=True,
        enable_match=True,
        analyzer_params=ANALYZERS[analyzer],
    )
    schema.add_field("sparse", dt.SPARSE_FLOAT_VECTOR)
    schema.add_field("dense", dt.FLOAT_VECTOR, dim=dim)
    schema.add_function(
        pm.Function(
            name="text_bm25",
            function_type=pm.FunctionType.BM25,
            input_field_names=["text"],
            output_field_names=["sparse"],
        )
    )


def chunk_schema(pm: ModuleType, dim: int, analyzer: str = DEFAULT_ANALYZER) -> Any:
    """The schema of CHUNKS_COLLECTION (and of its twins for other analyzers)."""
    dt = pm.DataType
    schema = pm.MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False, description="vecflow chunks")
    schema.add_field("pk", dt.VARCHAR, is_primary=True, max_length=256)
    schema.add_field("project_id", dt.VARCHAR, max_length=64)
    schema.add_field("vector_store_id", dt.VARCHAR, max_length=64)
    schema.add_field("file_id", dt.VARCHAR, max_length=64)
    schema.add_field("file_name", dt.VARCHAR, max_length=1024)
    for name in ("chunk_index", "page", "char_start", "char_end"):
        schema.add_field(name, dt.INT64)
    _text_fields(pm, schema, dim, analyzer)
    schema.add_field("attributes", dt.JSON)
    schema.add_field("section", dt.VARCHAR, max_length=SECTION_BYTES)
    return schema


def item_schema(pm: ModuleType, dim: int, analyzer: str = DEFAULT_ANALYZER) -> Any:
    """The schema of the ITEM_COLLECTIONS (and of their twins for other analyzers)."""
    dt = pm.DataType
    schema = pm.MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False, description="vecflow items")
    schema.add_field("pk", dt.VARCHAR, is_primary=True, max_length=ITEM_PK_BYTES)
    schema.add_field("project_id", dt.VARCHAR, max_length=64)
    schema.add_field("object_id", dt.VARCHAR, max_length=512)
    _text_fields(pm, schema, dim, analyzer)
    schema.add_field("payload", dt.JSON)
    schema.add_field("item_info", dt.JSON)
    return schema


def index_params(client: MilvusClient, fields: Sequence[str]) -> Any:
    """The indexes of `fields` other than the dense one (see `dense`): sparse (BM25) and INVERTED scalars, each
    named after its field."""
    params = client.prepare_index_params()
    for name in fields:
        if name == "sparse":
            params.add_index(field_name=name, index_name=name, index_type="SPARSE_INVERTED_INDEX", metric_type="BM25")
        else:
            params.add_index(field_name=name, index_name=name, index_type="INVERTED")
    return params


# --- creating and checking collections ---------------------------------------------------------------


@dataclass(frozen=True)
class CollectionState:
    """What an opened collection has: its dense index type, why, and whether it has the optional fields."""

    index_type: str
    reason: str
    missing: frozenset[str] = frozenset()  # OPTIONAL_FIELDS it lacks (a collection from an earlier version)


def ensure_collections(
    client: MilvusClient, pm: ModuleType, dim: int, choice: DenseChoice, opts: dict[str, Any]
) -> dict[str, CollectionState]:
    """Create the missing default-analyzer collections and indexes, check the existing ones and load them all."""
    states = {CHUNKS_COLLECTION: ensure_collection(client, pm, CHUNKS_COLLECTION, DEFAULT_ANALYZER, dim, choice, opts)}
    for name in ITEM_COLLECTIONS.values():
        states[name] = ensure_collection(client, pm, name, DEFAULT_ANALYZER, dim, choice, opts)
    return states


def ensure_collection(
    client: MilvusClient,
    pm: ModuleType,
    base: str,
    analyzer: str,
    dim: int,
    choice: DenseChoice,
    opts: dict[str, Any],
) -> CollectionState:
    """Create (when missing), check and load the collection of `base` (CHUNKS_COLLECTION or one of the
    ITEM_COLLECTIONS) for `analyzer`."""
    name = collection_for(base, analyzer)
    scalars: tuple[str, ...]
    if base == CHUNKS_COLLECTION:
        schema, scalars = chunk_schema(pm, dim, analyzer), CHUNK_SCALARS
    else:
        schema, scalars = item_schema(pm, dim, analyzer), ITEM_SCALARS
    if not client.has_collection(name, **opts):
        try:
            client.create_collection(name, schema=schema, consistency_level="Strong", **opts)
        except Exception:
            if not client.has_collection(name, **opts):  # not a concurrent creator: a real failure
                raise
    missing = _check_existing(client, name, schema, dim, analyzer, opts)
    index_type, reason = ensure_dense(client, name, choice, opts)
    wanted = [f for f in ("sparse", *scalars) if f not in missing]
    absent = [f for f in wanted if f not in set(client.list_indexes(name, **opts))]
    if absent:
        try:
            # sync=False: do not poll each index's state (pymilvus sleeps 0.5 s per index); an empty
            # collection's indexes exist as soon as CreateIndex returns, which is all load needs.
            client.create_index(name, index_params(client, absent), sync=False, **opts)
        except Exception:
            if set(absent) - set(client.list_indexes(name, **opts)):  # not a concurrent creator
                raise
    client.load_collection(name, **opts)
    return CollectionState(index_type, reason, missing)


def _check_existing(
    client: MilvusClient, name: str, schema: Any, dim: int, analyzer: str, opts: dict[str, Any]
) -> frozenset[str]:
    """Refuse a collection that cannot serve this index (SCHEMA_MISMATCH); returns the optional fields it lacks."""
    described = client.describe_collection(name, **opts)
    fields = {f["name"]: f for f in described.get("fields", [])}
    absent = {f.name for f in schema.fields} - set(fields)
    missing = sorted(absent - OPTIONAL_FIELDS)
    if missing:
        raise VectorIndexError(f"collection {name} exists without fields {missing}", reason="SCHEMA_MISMATCH")
    stored = int((fields["dense"].get("params") or {}).get("dim", 0))
    if stored != dim:
        raise VectorIndexError(
            f"collection {name} stores {stored}-dimensional vectors but this index was opened for {dim}; "
            "the embedding model changed, so the collection must be re-created and re-indexed",
            reason="SCHEMA_MISMATCH",
        )
    params = (fields["text"].get("params") or {}).get("analyzer_params")
    if params:
        try:
            found = json.loads(params) if isinstance(params, str) else params
        except ValueError:
            found = None
        if found is not None and found != ANALYZERS[analyzer]:
            raise VectorIndexError(
                f"collection {name} analyses text with {found}, not the {analyzer} analyzer {ANALYZERS[analyzer]} "
                "this index expects; it was created by another program or version: re-create it",
                reason="SCHEMA_MISMATCH",
            )
    return frozenset(absent & OPTIONAL_FIELDS)
