"""Standard Webhooks signing (https://www.standardwebhooks.com): secrets, and the signature of one attempt.

A secret is "whsec_" followed by the base64 of its key bytes. The signature of a message is
`v1,<base64(HMAC-SHA256(key, "<webhook-id>.<webhook-timestamp>.<body>"))>`, sent in `webhook-signature`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets

from vecflow.errors import InvalidArgument

PREFIX = "whsec_"
KEY_BYTES = 32  # of a generated secret
MIN_KEY_BYTES, MAX_KEY_BYTES = 24, 64  # of a given one (the spec's range)


def new_secret() -> str:
    """A fresh random secret."""
    return PREFIX + base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode()


def _key(secret: str) -> bytes | None:
    if not secret.startswith(PREFIX):
        return None
    try:
        return base64.b64decode(secret[len(PREFIX) :], validate=True)
    except (binascii.Error, ValueError):
        return None


def check_secret(field: str, secret: str) -> str:
    """A client-chosen secret, or INVALID_ARGUMENT saying what the form is."""
    key = _key(secret)
    if key is None or not MIN_KEY_BYTES <= len(key) <= MAX_KEY_BYTES:
        raise InvalidArgument.field(
            field,
            f'must be "{PREFIX}" followed by the base64 of {MIN_KEY_BYTES} to {MAX_KEY_BYTES} random bytes, '
            "or empty for the server to generate one",
        )
    return secret


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """The webhook-signature header of one attempt."""
    key = _key(secret)
    if key is None:
        raise ValueError("not a whsec_ secret")
    mac = hmac.new(key, f"{message_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()
