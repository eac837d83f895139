"""Resource ids: a short type prefix and 32 random hex characters."""

from __future__ import annotations

import re
import uuid

PREFIXES = {
    "account": "acct",
    "project": "proj",
    "api_key": "key",
    "knowledge_base": "kb",
    "directory": "dir",
    "file": "file",
    "parse_result": "pr",
    "vector_store": "vs",
    "file_batch": "vsfb",
    "job": "job",
    "upsertion_task": "task",
    "webhook": "wh",
    "webhook_delivery": "msg",  # the webhook-id header, Standard Webhooks style
}

_ID_RE = re.compile(r"^[a-z]{2,5}_[0-9a-f]{32}$")


def new_id(kind: str) -> str:
    """A fresh id for a resource kind, e.g. `new_id("job")` → "job_3f…"."""
    return f"{PREFIXES[kind]}_{uuid.uuid4().hex}"


def looks_like(kind: str, value: str) -> bool:
    """Whether `value` has the shape of an id of `kind` (cheap check before a lookup)."""
    return bool(_ID_RE.match(value)) and value.startswith(PREFIXES[kind] + "_")
