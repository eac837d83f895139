"""The `purge_files` operation (after DeleteFile, DeleteDirectory, DeleteKnowledgeBase): what of the deleted files
lives outside the database leaves too: their chunks out of Milvus, their parse results off the disk.

The service (vecflow.services.purge) removed the rows and listed the rest in the job's params; each step is
idempotent (deleting what is already gone is a no-op), so a crash midway only means the job runs again.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import Any

from vecflow.jobs.context import JobContext
from vecflow.storage.parsed import ParsedStore
from vecflow.vectors.milvus import MilvusIndex


class PurgeFiles:
    """Runs `purge_files` jobs."""

    def __init__(self, parsed: ParsedStore, index: Callable[[], Awaitable[MilvusIndex]]) -> None:
        self.parsed = parsed
        self.index = index  # the MilvusIndex, once it is ready

    async def __call__(self, ctx: JobContext) -> dict[str, Any]:
        by_store: dict[str, list[str]] = defaultdict(list)
        for vs_id, file_id in ctx.params.get("chunks", []):
            by_store[vs_id].append(file_id)
        if by_store:
            async with ctx.step("remove_chunks", vector_stores=len(by_store), files=sum(map(len, by_store.values()))):
                index = await self.index()
                for vs_id, file_ids in sorted(by_store.items()):  # whatever the store's analyzer: every collection
                    await index.delete_files(ctx.project_id, vs_id, file_ids, analyzer=None)
        results = ctx.params.get("parse_results", [])
        if results:
            async with ctx.step("remove_parse_results", parse_results=len(results)):
                for result_id in results:
                    await self.parsed.delete(result_id)
        return {
            "files": int(ctx.params.get("files", 0)),
            "vector_stores": len(by_store),
            "parse_results": len(results),
        }
