"""Deleting knowledge-base files for good: their chunks leave every vector store, nothing of them stays findable.

A delete (of a file, a directory tree or a knowledge base) is one transaction that removes the file rows, their
parse results and their vector-store files, recounts the usage of each store that held them, and records a
`purge_files` job listing what lives outside the database: the chunks in Milvus and the parse results on
disk. The job's steps are idempotent (deleting what is already gone is a no-op), so a crash midway only
means the job runs again once its lease expires. Between the commit and the job, searches cannot return
the deleted chunks: a search keeps only hits whose vector-store file still exists (IndexingService.search).

File contents are shared by sha256 between files; `reclaim_contents` (run by the server's sweeper) removes
those that no file references any more and that were not written for `grace_seconds` (an upload of the same
content refreshes that time before it records its file, so the two cannot race).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from vecflow.errors import FailedPrecondition
from vecflow.jobs.engine import JobEngine
from vecflow.jobs.eventlog import SyncWrite
from vecflow.storage import jobs as job_rows
from vecflow.storage import models as m
from vecflow.storage import purge as purge_rows
from vecflow.storage.blobs import BlobStore
from vecflow.storage.db import ColumnElement, Connection, Database

RECLAIM_BATCH = 500  # content hashes per reference query


class FilePurge:
    """Removes deleted files from the database at once, and submits the `purge_files` job (vecflow.operations.
    purge_files) that removes them from Milvus and the disk."""

    def __init__(self, db: Database, engine: JobEngine) -> None:
        self.db = db
        self.engine = engine

    async def delete_files(
        self,
        project_id: str,
        kb_id: str,
        which: ColumnElement[bool] | None,
        *,
        source_id: str,
        on_behalf_of: str = "",
        before: Callable[[Connection], None] | None = None,
        after: Callable[[Connection], None] | None = None,
    ) -> int:
        """Delete the knowledge base's files matching `which` (all of them when None); `before` and `after` run
        in the same transaction (to check the file is there; to delete directories or the knowledge base).
        Returns how many files went.

        FAILED_PRECONDITION (FILE_IN_PROGRESS) while one of them is still being added to a vector store."""
        scope = purge_rows.files_of(kb_id, which)
        deleted = 0

        def remove(write: SyncWrite, job: m.Job) -> None:
            nonlocal deleted
            conn = write.conn
            if before is not None:
                before(conn)
            busy = purge_rows.file_in_progress(conn, scope)
            if busy is not None:
                raise FailedPrecondition(
                    f"file {busy.file_id} is still being added to vector store {busy.vector_store_id}; "
                    "cancel that job or wait for it, then delete again",
                    reason="FILE_IN_PROGRESS",
                    metadata={"file_id": busy.file_id, "vector_store_id": busy.vector_store_id},
                )
            removed = purge_rows.remove_files(conn, kb_id, scope)
            deleted = removed.files
            if after is not None:
                after(conn)
            params = {
                "kb_id": kb_id,
                "files": deleted,
                "chunks": removed.chunks,
                "parse_results": removed.parse_results,
            }
            job_rows.set_job_params(conn, job.id, params)

        await self.engine.submit(project_id, "purge_files", source_id=source_id, on_behalf_of=on_behalf_of, also=remove)
        return deleted


async def reclaim_contents(db: Database, blobs: BlobStore, grace_seconds: float) -> tuple[int, int]:
    """Delete stored contents no file references that were last written over `grace_seconds` ago.
    Returns (contents removed, bytes given back)."""
    cutoff = time.time() - grace_seconds
    candidates = await asyncio.to_thread(blobs.stored_before, cutoff)
    removed = freed = 0
    for first in range(0, len(candidates), RECLAIM_BATCH):
        group = candidates[first : first + RECLAIM_BATCH]
        hashes = [sha for sha, _ in group]

        def referenced_of(conn: Connection, hashes: list[str] = hashes) -> list[str]:
            return purge_rows.referenced_contents(conn, hashes)

        referenced = set(await db.read(referenced_of))
        for sha, size in group:
            if sha not in referenced and await blobs.delete_if_unchanged(sha, cutoff):
                removed += 1
                freed += size
    return removed, freed
