"""The items of an upsertion task as a request gives them: their rules and the digest that makes `task_id` an
idempotency key (the same id with the same digest is the same task)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from vecflow import validation as v
from vecflow.errors import InvalidArgument
from vecflow.storage import models as m
from vecflow.vectors.milvus import ITEM_PK_BYTES, item_pk, stored_pk_bytes

MAX_OBJECT_ID = 512


@dataclass(frozen=True)
class NewItem:
    """One item of a CreateUpsertionTask request, as plain JSON values."""

    object_id: str
    payload: dict[str, Any] | None = None
    item_info: dict[str, Any] | None = None


@dataclass(frozen=True)
class Created:
    task: m.UpsertionTask
    failed: Sequence[m.UpsertionItem]
    created: bool


def items_digest(collection: str, text_field: str, items: Sequence[NewItem]) -> str:
    """sha256 of the canonical JSON of what a task does; item order does not matter (object_ids are unique)."""
    body = {
        "collection": collection,
        "text_field": text_field,
        "items": [
            {"object_id": i.object_id, "payload": i.payload, "item_info": i.item_info}
            for i in sorted(items, key=lambda i: i.object_id)
        ],
    }
    raw = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return hashlib.sha256(raw.encode()).hexdigest()


def check_items(project_id: str, items: Sequence[NewItem], max_task_items: int, max_item_payload_bytes: int) -> None:
    """INVALID_ARGUMENT naming the first item field that breaks a rule (ids, sizes, uniqueness)."""
    if not items:
        raise InvalidArgument.field("items", "give at least one item")
    if len(items) > max_task_items:
        raise InvalidArgument.field(
            "items",
            f"at most {max_task_items} items per task, got {len(items)}; split them into several tasks",
            reason="TOO_MANY_ITEMS",
        )
    seen: dict[str, int] = {}
    limit = max_item_payload_bytes
    for pos, item in enumerate(items):
        where = f"items[{pos}]"
        oid = item.object_id
        if not oid:
            raise InvalidArgument.field(f"{where}.object_id", "is required")
        size = len(oid.encode())
        if len(oid) > MAX_OBJECT_ID or size > MAX_OBJECT_ID:
            raise InvalidArgument.field(
                f"{where}.object_id", f"must be at most {MAX_OBJECT_ID} characters and bytes, got {size} bytes"
            )
        if v.ASCII_CONTROL.search(oid):
            raise InvalidArgument.field(f"{where}.object_id", "must not contain control characters")
        if stored_pk_bytes(item_pk(project_id, oid)) > ITEM_PK_BYTES:
            raise InvalidArgument.field(
                f"{where}.object_id", "is too long once its % ' and \\ characters are escaped; use fewer of them"
            )
        if oid in seen:
            raise InvalidArgument.field(
                f"{where}.object_id",
                f"{oid!r} is also items[{seen[oid]}].object_id; object_ids must be unique within a task",
                reason="DUPLICATE_OBJECT_ID",
            )
        seen[oid] = pos
        for name, value in (("payload", item.payload), ("item_info", item.item_info)):
            if value is None:
                continue
            try:
                raw = json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()
            except ValueError:
                raise InvalidArgument.field(f"{where}.{name}", "must not contain NaN or infinite numbers") from None
            if len(raw) > limit:
                raise InvalidArgument.field(
                    f"{where}.{name}",
                    f"is {len(raw)} bytes of JSON; the limit is {limit} bytes per item",
                    reason="PAYLOAD_TOO_LARGE",
                )
