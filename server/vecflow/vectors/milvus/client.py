"""pymilvus itself: imported on first use, with its own stderr logging silenced, and clients closed quietly."""

from __future__ import annotations

import functools
import logging
from types import ModuleType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pymilvus import MilvusClient

log = logging.getLogger("vecflow.vectors.milvus")


@functools.cache
def load_pymilvus() -> ModuleType:
    """The pymilvus module (imported once, on first use)."""
    import pymilvus

    # pymilvus installs its own stderr handlers ("pymilvus" at WARNING, "pymilvus.milvus_client" at
    # INFO) and logs every failed RPC as ERROR; failures reach our caller as VectorIndexError instead.
    for name in ("pymilvus", "pymilvus.milvus_client"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    return pymilvus


def close_client(client: MilvusClient | None) -> None:
    """Close `client` (if any); a failure is only logged."""
    if client is not None:
        try:
            client.close()
        except Exception as exc:
            log.debug("closing the Milvus client failed: %s", exc)
