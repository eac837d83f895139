"""Opaque page tokens for keyset pagination (AIP-158), bound to the filters they were made for.

A token is the position after which the next page starts and a fingerprint of the filters (which include
the project), signed with HMAC-SHA256 under a key every replica shares (`server_secrets`, created on first
start). A token that was altered, made up, or issued for other filters or another project is refused with
INVALID_ARGUMENT (INVALID_PAGE_TOKEN) before anything reads it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from typing import Any

from vecflow.errors import InvalidArgument

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000
MAX_TOKEN_CHARS = 4096
_MAC_BYTES = 16
_keys: list[bytes] = []  # the first signs; any of them verifies (several servers may share one process)


def use_key(key: bytes) -> None:
    """Sign page tokens with `key` from now on (tokens signed with keys used before stay valid)."""
    if key in _keys:
        _keys.remove(key)
    _keys.insert(0, key)


def _signing_key() -> bytes:
    if not _keys:
        use_key(secrets.token_bytes(32))  # no server configured one: tokens live as long as this process
    return _keys[0]


def page_size(value: int, default: int = DEFAULT_PAGE_SIZE, maximum: int = MAX_PAGE_SIZE) -> int:
    """Validate a requested page size: negative is invalid, 0 is the default, large is clamped."""
    if value < 0:
        raise InvalidArgument.field("page_size", f"must be between 0 and {maximum}, got {value}")
    return default if value == 0 else min(value, maximum)


def _fingerprint(filters: dict[str, Any]) -> str:
    raw = json.dumps(filters, sort_keys=True, default=str).encode()
    return hashlib.sha256(raw).hexdigest()[:16]


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(key: bytes, payload: bytes) -> bytes:
    return hmac.new(key, payload, hashlib.sha256).digest()[:_MAC_BYTES]


def invalid(description: str = "is not a token this server issued; pass next_page_token unchanged") -> InvalidArgument:
    return InvalidArgument.field("page_token", description, reason="INVALID_PAGE_TOKEN")


def encode(position: list[Any], filters: dict[str, Any]) -> str:
    """A token for the row after `position` (the sort key of the last row returned)."""
    payload = json.dumps({"p": position, "f": _fingerprint(filters)}, default=str, separators=(",", ":")).encode()
    return f"{_b64(payload)}.{_b64(_mac(_signing_key(), payload))}"


def decode(token: str, filters: dict[str, Any], shape: tuple[type, ...]) -> list[Any] | None:
    """The sort key a token points after (its items of the types in `shape`), or None for the first page."""
    if not token:
        return None
    body, _, signature = token.partition(".")
    if len(token) > MAX_TOKEN_CHARS or not signature:
        raise invalid()
    try:
        payload, mac = _unb64(body), _unb64(signature)
    except (ValueError, binascii.Error):
        raise invalid() from None
    if not any(hmac.compare_digest(mac, _mac(key, payload)) for key in (_keys or [_signing_key()])):
        raise invalid()
    try:
        data = json.loads(payload)
        position, fingerprint = data["p"], data["f"]
    except (ValueError, KeyError, TypeError):
        raise invalid() from None
    if fingerprint != _fingerprint(filters):
        raise invalid("was issued for different filters; repeat the same filters or start over")
    if (
        not isinstance(position, list)
        or len(position) != len(shape)
        or not all(isinstance(v, t) for v, t in zip(position, shape, strict=True))
    ):
        raise invalid()
    return position
