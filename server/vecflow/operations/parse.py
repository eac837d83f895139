"""The `parse` operation (ParseFile, and uploads that parse): parse a stored file in a worker process, store the
result, and re-add a replaced file to the vector stores that hold it.

The result's id is derived from the job's, so a retried step rewrites the same result. The file's parse_state
follows the job: pending while it waits or runs, success with its parse_result_id, or failed with the code.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from vecflow.failures import CodedFailure
from vecflow.jobs.context import JobContext
from vecflow.jobs.engine import JobEngine
from vecflow.jobs.errors import JobCancelled, JobFailed
from vecflow.jobs.eventlog import SyncWrite
from vecflow.pipeline.embed import Embedder
from vecflow.pipeline.parse import ParseError
from vecflow.pipeline.parse_worker import ParseCancelled, ParsePool
from vecflow.storage import models as m
from vecflow.storage import webhooks
from vecflow.storage.blobs import BlobStore
from vecflow.storage.db import Database
from vecflow.storage.files import file_to_parse, mark_parsed
from vecflow.storage.models import utcnow
from vecflow.storage.parse_results import record_result
from vecflow.storage.parsed import ParsedStore

PREVIEW_CHARS = 1000  # of the text, kept on the parse result's row

Reindex = Callable[[str, str], Awaitable[list[str]]]


def parse_result_id_for(job_id: str) -> str:
    """A parse job's result id is derived from the job id, so a retried step rewrites the same result."""
    return "pr_" + job_id.split("_", 1)[1]


class Parse:
    """Runs `parse` jobs."""

    def __init__(
        self,
        db: Database,
        engine: JobEngine,
        blobs: BlobStore,
        parsed: ParsedStore,
        parser: ParsePool,
        embedder: Embedder,
        reindex: Reindex | None = None,
    ) -> None:
        """`reindex(project_id, file_id)` re-adds a replaced file to every vector store that holds it, returning
        the jobs it started (IndexingService.reindex_file)."""
        self.db = db
        self.engine = engine
        self.blobs = blobs
        self.parsed = parsed
        self.parser = parser
        self.embedder = embedder
        self.reindex = reindex

    async def _set_file(self, file_id: str, **values: Any) -> None:
        async with self.db.session() as s:
            row = await s.get(m.File, file_id)
            if row is not None:
                for key, value in values.items():
                    setattr(row, key, value)
                row.updated_at = utcnow()

    async def cancelled_unstarted(self, job: m.Job) -> None:
        """A parse job cancelled before it ran: its file's parse failed (CANCELLED)."""
        async with self.db.session() as s:
            f = await s.get(m.File, (job.params or {}).get("file_id", ""))
            if f is not None and f.parse_job_id == job.id and f.parse_state == "pending":
                f.parse_state, f.updated_at = "failed", utcnow()
                f.parse_error_code, f.parse_error_message = "CANCELLED", "the parse job was cancelled before it ran"

    async def __call__(self, ctx: JobContext) -> dict[str, Any]:
        file_id = ctx.params["file_id"]
        row = await self.db.read(lambda conn: file_to_parse(conn, file_id))
        if row is None or row.project_id != ctx.project_id:
            raise JobFailed("FILE_NOT_FOUND", f"file {file_id} was deleted before it could be parsed")
        if row.parse_state != "pending" or row.parse_job_id != ctx.job_id:
            await self._set_file(file_id, parse_state="pending", parse_job_id=ctx.job_id)
        try:
            return await self._parse(ctx, row)
        except CodedFailure as err:  # JobFailed, or the tokenizer's EmbeddingError
            await self._set_file(
                file_id, parse_state="failed", parse_error_code=err.code, parse_error_message=err.message
            )
            raise
        except JobCancelled:
            await self._set_file(
                file_id,
                parse_state="failed",
                parse_error_code="CANCELLED",
                parse_error_message="the parse job was cancelled",
            )
            raise
        except Exception as err:
            await self._set_file(
                file_id,
                parse_state="failed",
                parse_error_code="INTERNAL_ERROR",
                parse_error_message=f"{type(err).__name__}: {err}",
            )
            raise

    async def _parse(self, ctx: JobContext, row: Any) -> dict[str, Any]:
        content_type = ctx.params.get("content_type") or row.content_type
        # ParseFile's setting, else the upload's, else the knowledge base's.
        ocr = ctx.params.get("ocr") or row.ocr or row.kb_ocr or "auto"
        result_id = parse_result_id_for(ctx.job_id)
        temp = self.parsed.temp_path(result_id)
        try:
            async with ctx.step("parse", content_type=content_type, bytes=row.content_length, ocr=ocr) as step:

                async def page_read(message: dict[str, Any]) -> None:  # one progress event per OCR'd page at most
                    await ctx.progress(
                        step="parse",
                        ocr_page=message["page"],
                        ocr_pages_done=message["done"],
                        ocr_pages_total=message["total"],
                        ocr_confidence=message["confidence"],
                    )

                # The stored file itself on a local folder; from S3, a temp download deleted after the parse.
                async with self.blobs.local_file(row.uid) as path:
                    if path is None:
                        raise JobFailed(
                            "CONTENT_MISSING", f"the stored content of file {row.id} is missing from the blob store"
                        )
                    try:  # in a worker process, under the memory and time budget (vecflow.pipeline.parse_worker)
                        summary = await self.parser.parse(
                            path,
                            content_type,
                            temp,
                            preview_chars=PREVIEW_CHARS,
                            cancelled=ctx.cancel_requested,
                            ocr=ocr,
                            on_progress=page_read,
                        )
                    except ParseError as err:
                        raise JobFailed(err.code, err.message) from None
                    except ParseCancelled:
                        raise JobCancelled() from None
                step.details.update(
                    parser=summary.parser,
                    pages=summary.pages,
                    characters=summary.characters,
                    tables=summary.tables,
                    tokens=summary.tokens,
                    model=self.embedder.name,
                    tokenize_ms=summary.tokenize_ms,
                    peak_rss_bytes=summary.peak_rss_bytes,
                    ocr_pages=summary.ocr_pages,
                    ocr_confidence=summary.ocr_confidence,
                )
            async with ctx.step("store") as step:
                size = await self.parsed.adopt(result_id, temp)
                values = {
                    "project_id": ctx.project_id,
                    "file_id": row.id,
                    "job_id": ctx.job_id,
                    "content_type": summary.content_type,
                    "parser": summary.parser,
                    "pages": summary.pages,
                    "characters": summary.characters,
                    "tokens": summary.tokens,
                    "text_preview": summary.text_preview,
                    "ocr_pages": summary.ocr_pages,
                }

                def record(write: SyncWrite) -> None:  # one hop: this runs for every document ingested
                    now = utcnow()
                    if not mark_parsed(write.conn, row.id, result_id, now):
                        raise JobFailed("FILE_NOT_FOUND", f"file {row.id} was deleted while it was parsed")
                    record_result(write.conn, result_id, values, now)
                    webhooks.file_parsed(write.conn, ctx.project_id, row.id, result_id, ctx.job_id, now)

                try:
                    await self.engine.events.transact(record)
                except JobFailed:
                    await self.parsed.delete(result_id)
                    raise
                step.details.update(parse_result_id=result_id, bytes=size)
        finally:
            await asyncio.to_thread(temp.unlink, True)  # gone already when adopted
        if ctx.params.get("reindex") and self.reindex is not None:
            async with ctx.step("reindex") as step:  # every vector store that holds the file, with the new text
                jobs = await self.reindex(ctx.project_id, row.id)
                step.details.update(vector_stores=len(jobs), jobs=jobs)
        return {
            "parse_result_id": result_id,
            "file_id": row.id,
            "content_type": summary.content_type,
            "pages": summary.pages,
            "characters": summary.characters,
            "tokens": summary.tokens,
        }
