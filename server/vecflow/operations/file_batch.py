"""The `file_batch` operation (CreateFileBatch): the `vector_store` work over a batch's files, the batch
recording the outcome (completed when any file was added, failed when none was, or cancelled)."""

from __future__ import annotations

from typing import Any

from vecflow.operations.vector_store import IndexFiles
from vecflow.storage import store_files


class IndexFileBatch(IndexFiles):
    """Runs `file_batch` jobs."""

    async def settled(self, params: dict[str, Any], status: str) -> None:
        await store_files.finish_batch(self.tools.db, params.get("batch_id", ""), status)
