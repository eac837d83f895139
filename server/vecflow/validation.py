"""Shared input checks for names, paths, ids and JSON metadata; each raises InvalidArgument."""

from __future__ import annotations

import json
import re
import unicodedata
import uuid
from typing import Any

from vecflow.errors import InvalidArgument

MAX_NAME = 256
MAX_SEGMENT = 255
MAX_PATH = 1024
MAX_DESCRIPTION = 4096
MAX_METADATA_BYTES = 16 * 1024
# Control characters (C0, DEL, C1), bidirectional overrides and isolates (they make a name display as
# something else: "invoice\u202efdp.exe"), invisible marks, line/paragraph separators and the BOM.
ASCII_CONTROL = re.compile(r"[\x00-\x1f\x7f]")  # C0 and DEL: never in an identifier or a field name
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200b\u200e\u200f\u2028-\u202e\u2060-\u2069\ufeff]")


def required(field: str, value: str) -> str:
    if not value:
        raise InvalidArgument.field(field, "is required")
    return value


def _unambiguous(field: str, value: str, reason: str) -> str:
    """NFC form of `value`; refuses control, bidirectional and invisible characters and edge whitespace."""
    value = unicodedata.normalize("NFC", value)
    bad = _CONTROL.search(value)
    if bad:
        raise InvalidArgument.field(
            field,
            f"must not contain control, bidirectional or invisible characters (U+{ord(bad.group()):04X} at "
            f"position {bad.start() + 1})",
            reason=reason,
        )
    if value != value.strip():
        raise InvalidArgument.field(field, "must not begin or end with whitespace", reason=reason)
    return value


def display_name(field: str, value: str, maximum: int = MAX_NAME) -> str:
    """A human-chosen name: 1–maximum characters, not blank; returned in NFC (see `_unambiguous`)."""
    if not value or not value.strip():
        raise InvalidArgument.field(field, "is required and must not be blank")
    value = _unambiguous(field, value, "INVALID_ARGUMENT")
    if len(value) > maximum:
        raise InvalidArgument.field(field, f"must be at most {maximum} characters, got {len(value)}")
    return value


def text(field: str, value: str, maximum: int) -> str:
    if len(value) > maximum:
        raise InvalidArgument.field(field, f"must be at most {maximum} characters, got {len(value)}")
    return value


def path_segment(field: str, value: str) -> str:
    """One file or directory name: no "/", not "." or "..", 1–255 characters, not blank; returned in NFC.

    Windows device names (CON, NUL, COM1, …) are accepted: a name never becomes a path on the server.
    """
    if not value or not value.strip():
        raise InvalidArgument.field(field, "is required and must not be blank", reason="INVALID_PATH")
    value = _unambiguous(field, value, "INVALID_PATH")
    if "/" in value or "\\" in value:
        raise InvalidArgument.field(field, "must not contain '/' or '\\'", reason="INVALID_PATH")
    if value in (".", ".."):
        raise InvalidArgument.field(field, "must not be '.' or '..'", reason="INVALID_PATH")
    if len(value) > MAX_SEGMENT:
        raise InvalidArgument.field(field, f"must be at most {MAX_SEGMENT} characters", reason="INVALID_PATH")
    return value


def directory_path(field: str, value: str, allow_root: bool = True) -> str:
    """A directory path like "docs/reports"; "" is the root. Leading/trailing "/" are tolerated."""
    stripped = value.strip("/")
    if not stripped:
        if allow_root:
            return ""
        raise InvalidArgument.field(field, "is required (the root cannot be created or deleted)", reason="INVALID_PATH")
    if len(stripped) > MAX_PATH:
        raise InvalidArgument.field(field, f"must be at most {MAX_PATH} characters", reason="INVALID_PATH")
    segments = []
    for segment in stripped.split("/"):
        if segment == "":
            raise InvalidArgument.field(field, "must not contain empty segments ('//')", reason="INVALID_PATH")
        segments.append(path_segment(field, segment))
    return "/".join(segments)


def metadata(field: str, value: dict[str, Any] | None) -> dict[str, Any] | None:
    if not value:
        return None
    size = len(json.dumps(value, separators=(",", ":")).encode())
    if size > MAX_METADATA_BYTES:
        raise InvalidArgument.field(field, f"must serialize to at most {MAX_METADATA_BYTES} bytes of JSON, got {size}")
    return value


def request_id(value: str) -> str:
    """An optional AIP-155 request id; when given it must be a UUID."""
    if not value:
        return ""
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise InvalidArgument.field(
            "request_id", "must be a UUID such as 7c9e6679-7425-40de-944b-e07fc1f90ae7"
        ) from None
