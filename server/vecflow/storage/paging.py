"""Opaque page tokens for keyset pagination (AIP-158), bound to the filters they were made for."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from vecflow.errors import InvalidArgument

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000


def page_size(value: int, default: int = DEFAULT_PAGE_SIZE, maximum: int = MAX_PAGE_SIZE) -> int:
    """Validate a requested page size: negative is invalid, 0 is the default, large is clamped."""
    if value < 0:
        raise InvalidArgument.field("page_size", f"must be between 0 and {maximum}, got {value}")
    return default if value == 0 else min(value, maximum)


def _fingerprint(filters: dict[str, Any]) -> str:
    raw = json.dumps(filters, sort_keys=True, default=str).encode()
    return hashlib.sha256(raw).hexdigest()[:16]


def encode(position: list[Any], filters: dict[str, Any]) -> str:
    """A token for the row after `position` (the sort key of the last row returned)."""
    raw = json.dumps({"p": position, "f": _fingerprint(filters)}, default=str).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(token: str, filters: dict[str, Any]) -> list[Any] | None:
    """The sort key a token points after, or None for the first page."""
    if not token:
        return None
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        data = json.loads(raw)
        position, fingerprint = data["p"], data["f"]
    except (ValueError, KeyError, TypeError):
        raise InvalidArgument.field(
            "page_token",
            "is not a token this server issued; pass next_page_token unchanged",
            reason="INVALID_PAGE_TOKEN",
        ) from None
    if fingerprint != _fingerprint(filters) or not isinstance(position, list):
        raise InvalidArgument.field(
            "page_token",
            "was issued for different filters; repeat the same filters or start over",
            reason="INVALID_PAGE_TOKEN",
        )
    return position
