"""The errors of the Milvus layer, and how pymilvus' exceptions are mapped onto them."""

from __future__ import annotations

import re

_RETRY_PREFIX = re.compile(r"^\[\w+\] Retry (?:run out of \d+ retry times|timeout: \S+), message=")
PARAMETER_INVALID = 1100  # Milvus' ErrParameterInvalid, what a filter it cannot parse or type-check gets


class VectorIndexError(Exception):
    """A Milvus operation failed; `message` says why in plain words (Milvus' own message included).

    `reason` is a coarse code for the API layer: ``INVALID_FILTER`` (see `InvalidFilterError`),
    ``INVALID_ARGUMENT`` (bad rows, vector length, mode, limit), ``SCHEMA_MISMATCH`` (an existing
    collection does not fit this index, e.g. another dimension), ``UNAVAILABLE`` (cannot reach or start
    Milvus) or ``VECTOR_INDEX_ERROR`` (anything else).
    """

    reason = "VECTOR_INDEX_ERROR"

    def __init__(self, message: str, *, reason: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if reason is not None:
            self.reason = reason

    def __str__(self) -> str:
        return self.message


class InvalidFilterError(VectorIndexError):
    """The caller's filter expression was refused (by the pre-check here, or by Milvus)."""

    reason = "INVALID_FILTER"


def invalid(message: str) -> VectorIndexError:
    """An INVALID_ARGUMENT error: the caller passed something this layer refuses."""
    return VectorIndexError(message, reason="INVALID_ARGUMENT")


def error_message(exc: BaseException) -> str:
    """A pymilvus (or gRPC) exception's message, without pymilvus' retry prefix."""
    msg = getattr(exc, "message", None)
    if not isinstance(msg, str) or not msg:
        details = getattr(exc, "details", None)
        msg = details() if callable(details) else str(exc)
    msg = _RETRY_PREFIX.sub("", str(msg)).strip()
    return msg or type(exc).__name__


def _looks_unavailable(exc: BaseException, msg: str) -> bool:
    if type(exc).__name__ in {"MilvusUnavailableException", "ConnectionNotExistException"}:
        return True
    code = getattr(exc, "code", None)
    if callable(code):  # a raw grpc.RpcError
        try:
            code = code()
        except Exception:
            code = None
    lowered = msg.lower()
    return (
        "unavailable" in str(code).lower()
        or "unavailable" in lowered
        or "fail connecting" in lowered
        or "failed to connect" in lowered
        or "connection refused" in lowered
        or "deadline exceeded" in lowered
    )


def wrap(exc: BaseException, action: str, reason: str | None = None) -> VectorIndexError:
    """`exc` as a VectorIndexError saying what failed (UNAVAILABLE when Milvus cannot be reached)."""
    if isinstance(exc, VectorIndexError):
        return exc
    msg = error_message(exc)
    if reason is None:
        reason = "UNAVAILABLE" if _looks_unavailable(exc, msg) else "VECTOR_INDEX_ERROR"
    return VectorIndexError(f"{action}: {msg}", reason=reason)
