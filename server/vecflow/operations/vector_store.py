"""The `vector_store` operation (AddFilesToVectorStore): chunk, embed and insert files into a vector store.

The work itself is an `IndexRun` (chunk → embed → insert in slices). Each file is redone whole if it was not
finished: its chunks are upserted under deterministic keys (store, file, generation, chunk index), so a retried
or resumed job never duplicates a vector. Files finished in an earlier attempt are skipped; files already
indexed from the same parse result (listed by the service as `unchanged`) only get their attributes rewritten.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from vecflow.jobs.context import JobContext
from vecflow.jobs.errors import JobCancelled, JobFailed
from vecflow.operations.index_run import IndexRun, IndexTools
from vecflow.storage import models as m
from vecflow.storage import store_files
from vecflow.vectors.milvus import MilvusIndex

IndexProvider = Callable[[], Awaitable[MilvusIndex]]


class IndexFiles:
    """Runs `vector_store` jobs; `file_batch` jobs (operations.file_batch) are the same work with a batch."""

    def __init__(self, tools: IndexTools, index: IndexProvider) -> None:
        self.tools = tools
        self.index = index  # the model loaded and the Milvus collections open

    async def settled(self, params: dict[str, Any], status: str) -> None:
        """The job's files are settled with this outcome (completed, failed or cancelled)."""

    async def cancelled_unstarted(self, job: m.Job) -> None:
        """A job cancelled before it ran (CancelFileBatch or CancelJob): its files are cancelled."""
        params = job.params or {}  # always set (JobEngine.submit stores `params or {}`)
        vs_id = params.get("vector_store_id", "")
        await store_files.set_files(self.tools.db, vs_id, params.get("file_ids", []), "cancelled", "CANCELLED", "")
        await self.settled(params, "cancelled")

    async def __call__(self, ctx: JobContext) -> dict[str, Any]:
        db = self.tools.db
        vs_id = ctx.params["vector_store_id"]
        file_ids: list[str] = ctx.params["file_ids"]
        async with db.read_session() as s:
            store = await s.get(m.VectorStore, vs_id)
        if store is None:
            raise JobFailed("VECTOR_STORE_NOT_FOUND", f"vector store {vs_id} was deleted before its files were added")
        async with ctx.step("prepare", files=len(file_ids)) as step:
            index = await self.index()
            step.details.update(model=self.tools.embedder.name, dimension=self.tools.embedder.dimension)
        # Files finished in an earlier attempt are "completed" in the database: skip them.
        async with db.read_session() as s:
            finished = await store_files.settled_among(s, vs_id, file_ids)
        await self._skip_unchanged(ctx, index, store)
        run = IndexRun(self.tools, ctx, index, store, len(file_ids))
        try:
            await run.run([f for f in file_ids if f not in finished])
        except JobCancelled:
            await store_files.set_files(
                db,
                vs_id,
                [f for f in file_ids if f not in run.outcome and f not in finished],
                "cancelled",
                "CANCELLED",
                "the job was cancelled before this file was done",
            )
            await self.settled(ctx.params, "cancelled")
            raise
        done = dict(run.outcome)
        if finished:
            async with db.read_session() as s:
                rows = await store_files.files_in_store(s, vs_id, list(finished))
            done.update({row.file_id: row.status for row in rows})
        completed = sum(1 for o in done.values() if o == "completed")
        failed = len(file_ids) - completed
        summary = {"vector_store_id": vs_id, "files": len(file_ids), "completed": completed, "failed": failed}
        if ctx.params.get("batch_id"):
            summary["batch_id"] = ctx.params["batch_id"]
        if completed == 0 and failed:
            await self.settled(ctx.params, "failed")
            raise JobFailed(
                "ALL_FILES_FAILED",
                f"none of the {failed} files could be added; see each file's last_error",
                details=summary,
            )
        await self.settled(ctx.params, "completed")
        return summary

    async def _skip_unchanged(self, ctx: JobContext, index: MilvusIndex, store: m.VectorStore) -> None:
        """Files already indexed from the same parse result keep their chunks: a `skip` step, which rewrites the
        chunks' attributes where those changed."""
        unchanged = ctx.params.get("unchanged", [])
        if not unchanged:
            return
        async with ctx.step("skip", files=len(unchanged)) as step:
            step.details["reason"] = "already indexed from the same parse result with this store's chunking"
            relabelled = ctx.params.get("relabelled", [])
            if relabelled:
                vs_id, analyzer = store.id, store.keyword_analyzer
                attributes = await store_files.file_attributes(self.tools.db, vs_id, relabelled)
                for file_id in relabelled:  # the chunks keep their vectors; only their attributes change
                    await index.set_file_attributes(
                        ctx.project_id, vs_id, file_id, attributes.get(file_id), analyzer=analyzer
                    )
                step.details["attributes_updated"] = len(relabelled)
