"""Primary keys (chunk pks, the stored percent-escaped form) and the checked rows that are upserted."""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Mapping
from typing import Any

from vecflow.vectors.milvus.errors import invalid
from vecflow.vectors.milvus.expressions import CONTROL

_PK_UNSAFE = re.compile(r"[%'\\]")
_PK_ESCAPED = re.compile(r"%(25|27|5C)")

CHUNK_REQUIRED = ("pk", "project_id", "vector_store_id", "file_id", "chunk_index", "text", "dense")
CHUNK_KEYS = frozenset((*CHUNK_REQUIRED, "file_name", "page", "char_start", "char_end", "attributes", "section"))
SECTION_BYTES = 2048  # a chunk's section path, UTF-8 (longer ones are cut)
ITEM_REQUIRED = ("project_id", "object_id", "text", "dense")
ITEM_KEYS = frozenset((*ITEM_REQUIRED, "pk", "payload", "item_info"))


# --- primary keys ----------------------------------------------------------------------------------


def chunk_pk(vector_store_id: str, file_id: str, generation: str, index: int) -> str:
    """A chunk's primary key: its store, file, generation (the indexing job that wrote it) and index.
    Chunks written before generations existed have none (and `chunk_generation` gives "" for them)."""
    if generation:
        return f"{vector_store_id}:{file_id}:{generation}:{index}"
    return f"{vector_store_id}:{file_id}:{index}"


ITEM_PK_BYTES = 640  # an item's pk (project_id:object_id) once stored: 64 + 1 + 512 characters, escaped


def item_pk(project_id: str, object_id: str) -> str:
    """An upsertion item's primary key: one per object_id in a project (an upsert replaces it)."""
    return f"{project_id}:{object_id}"


def stored_pk_bytes(pk: str) -> int:
    """How long a pk is once stored (`store_pk` escapes ``%``, ``'`` and ``\\`` to three bytes each)."""
    return len(pk.encode()) + 2 * len(_PK_UNSAFE.findall(pk))


def chunk_generation(pk: str) -> str:
    """The generation part of a chunk pk made by `chunk_pk`."""
    parts = pk.split(":")
    return parts[2] if len(parts) == 4 else ""


def store_pk(value: object, what: str, max_bytes: int) -> str:
    """The pk as stored: ``%``, ``'`` and ``\\`` percent-escaped (see the package docstring), length-checked."""
    stored = _PK_UNSAFE.sub(lambda m: f"%{ord(m.group()):02X}", _ident(value, what, max_bytes))
    size = len(stored.encode())
    if size > max_bytes:
        raise invalid(f"{what} is {size} bytes long once % ' and \\ are escaped, the limit is {max_bytes}")
    return stored


def public_pk(stored: object) -> str:
    """The pk a caller gave, from its stored form (see `store_pk`)."""
    return _PK_ESCAPED.sub(lambda m: chr(int(m.group(1), 16)), str(stored))


# --- field values ----------------------------------------------------------------------------------


def _text(value: object, what: str, max_bytes: int, *, required: bool = True) -> tuple[str, int]:
    if not isinstance(value, str):
        raise invalid(f"{what} must be a string, got {type(value).__name__}")
    size = len(value.encode())
    if required and not value:
        raise invalid(f"{what} must not be empty")
    if size > max_bytes:
        raise invalid(f"{what} is {size} bytes long, the limit is {max_bytes}")
    return value, size


def _ident(value: object, what: str, max_bytes: int) -> str:
    text, _ = _text(value, what, max_bytes)
    if CONTROL.search(text):
        raise invalid(f"{what} must not contain control characters")
    return text


def _truncate(value: object, max_bytes: int) -> str:
    text = "" if value is None else str(value)
    raw = text.encode()
    return text if len(raw) <= max_bytes else raw[:max_bytes].decode(errors="ignore")


def _int(value: object, what: str, default: int = 0) -> int:
    if value is None:
        return default
    if isinstance(value, bool):
        raise invalid(f"{what} must be an integer, got bool")
    try:
        return operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        raise invalid(f"{what} must be an integer, got {type(value).__name__}") from None


def json_value(value: object, what: str) -> Any:
    """A JSON field's value: a dict (or list) as given, {} for None."""
    if value is None:
        return {}
    if not isinstance(value, Mapping | list):
        raise invalid(f"{what} must be an object (dict), got {type(value).__name__}")
    return dict(value) if isinstance(value, Mapping) else value


def dense_vector(value: object, dim: int, what: str) -> list[float]:
    """`value` as a list of `dim` finite floats."""
    if value is None:
        raise invalid(f"{what} is required")
    tolist = getattr(value, "tolist", None)
    seq = tolist() if callable(tolist) else value
    try:
        vec = [float(x) for x in seq]  # type: ignore[union-attr]
    except (TypeError, ValueError):
        raise invalid(f"{what} must be a sequence of numbers") from None
    if len(vec) != dim:
        raise invalid(f"{what} has {len(vec)} dimensions, the index has {dim}")
    if not all(math.isfinite(x) for x in vec):
        raise invalid(f"{what} contains NaN or infinity")
    return vec


# --- rows ------------------------------------------------------------------------------------------


def _check_keys(raw: Mapping[str, Any], allowed: frozenset[str], required: tuple[str, ...], where: str) -> None:
    if not isinstance(raw, Mapping):
        raise invalid(f"{where} must be a dict, got {type(raw).__name__}")
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise invalid(f"{where} has unknown fields {unknown} (sparse is computed by Milvus)")
    missing = [k for k in required if raw.get(k) is None]
    if missing:
        raise invalid(f"{where} is missing {missing}")


def chunk_row(raw: Mapping[str, Any], pos: int, dim: int, *, section: bool = True) -> tuple[dict[str, Any], int]:
    """The checked chunk row `rows[pos]` and its approximate size in bytes; without `section` (a collection
    from before sections) the row has no section field."""
    where = f"rows[{pos}]"
    _check_keys(raw, CHUNK_KEYS, CHUNK_REQUIRED, where)
    text, size = _text(raw["text"], f"{where}.text", 65535, required=False)
    row = {
        "pk": store_pk(raw["pk"], f"{where}.pk", 256),
        "project_id": _ident(raw["project_id"], f"{where}.project_id", 64),
        "vector_store_id": _ident(raw["vector_store_id"], f"{where}.vector_store_id", 64),
        "file_id": _ident(raw["file_id"], f"{where}.file_id", 64),
        "file_name": _truncate(raw.get("file_name"), 1024),
        "chunk_index": _int(raw["chunk_index"], f"{where}.chunk_index"),
        "page": _int(raw.get("page"), f"{where}.page"),
        "char_start": _int(raw.get("char_start"), f"{where}.char_start"),
        "char_end": _int(raw.get("char_end"), f"{where}.char_end"),
        "text": text,
        "dense": dense_vector(raw["dense"], dim, f"{where}.dense"),
        "attributes": json_value(raw.get("attributes"), f"{where}.attributes"),
    }
    if section:
        row["section"] = _truncate(raw.get("section"), SECTION_BYTES)
    return row, size + 4 * dim + 512


def item_row(raw: Mapping[str, Any], pos: int, dim: int) -> tuple[dict[str, Any], int]:
    """The checked item row `rows[pos]` (pk ``f"{project_id}:{object_id}"`` unless given) and its size."""
    where = f"rows[{pos}]"
    _check_keys(raw, ITEM_KEYS, ITEM_REQUIRED, where)
    project_id = _ident(raw["project_id"], f"{where}.project_id", 64)
    object_id = _ident(raw["object_id"], f"{where}.object_id", 512)
    pk = raw.get("pk")
    text, size = _text(raw["text"], f"{where}.text", 65535, required=False)
    row = {
        "pk": store_pk(item_pk(project_id, object_id) if pk is None else pk, f"{where}.pk", ITEM_PK_BYTES),
        "project_id": project_id,
        "object_id": object_id,
        "text": text,
        "dense": dense_vector(raw["dense"], dim, f"{where}.dense"),
        "payload": json_value(raw.get("payload"), f"{where}.payload"),
        "item_info": json_value(raw.get("item_info"), f"{where}.item_info"),
    }
    return row, size + 4 * dim + 512


def dedupe(rows: list[tuple[dict[str, Any], int]]) -> list[tuple[dict[str, Any], int]]:
    """Last row wins for a repeated pk (what a sequence of upserts would do)."""
    by_pk = {row["pk"]: (row, size) for row, size in rows}
    return list(by_pk.values())
