"""The `upsert` operation (CreateUpsertionTask, RestartUpsertionTask): embed an upsertion task's items and upsert
them by object_id into one of two Milvus collections.

The job
-------
``prepare`` (load the model, open Milvus), ``validate`` (once; skipped when resumed), then per batch of
``batch_size`` items an ``embed`` and an ``upsert`` step with counts and durations. After each batch its items
are marked ``landed`` and the task's ``upserted_items`` is recounted in one transaction: that is the checkpoint,
so a resumed or restarted job only redoes items still ``pending``. Cancellation is checked at every step
boundary (so it stops at the next batch; items not landed stay out). Rows are upserted under
(project_id, object_id) (vecflow.vectors.milvus.item_pk), so an object_id that exists is replaced, never duplicated.

An item that cannot be embedded is marked ``failed`` with a code and a reason (the task's failed_items) and the
others still land:

* MISSING_TEXT: the payload has no ``text_field`` key (or no payload at all);
* INVALID_TEXT: the value is not a string;
* EMPTY_TEXT: the string is empty or only whitespace;
* TEXT_TOO_LONG: more than MAX_TEXT_CHARS characters or MAX_TEXT_BYTES UTF-8 bytes (what Milvus stores).
  Texts longer than the model's input limit (``Embedder.max_tokens``) are *not* rejected: the model embeds their
  first max_tokens tokens, the full text is stored and matched by keyword search (the ``embed`` step counts them
  as ``truncated``);
* UPSERT_REJECTED: Milvus refused that one row.

The job succeeds when at least one item landed (task ``done``, failed_items lists the rest) and fails with
NO_ITEMS_LANDED when none did (task ``failed``). Other job failure codes: EMBEDDING_UNAVAILABLE /
EMBEDDING_BAD_RESPONSE (from the embedder), VECTOR_INDEX_UNAVAILABLE / VECTOR_INDEX_ERROR (Milvus), TASK_NOT_FOUND.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, cast

from vecflow.jobs.context import JobContext, Step
from vecflow.jobs.engine import LeaseLost
from vecflow.jobs.errors import JobCancelled, JobFailed
from vecflow.pipeline.chunk import count_tokens
from vecflow.pipeline.embed import Embedder
from vecflow.storage import models as m
from vecflow.storage import upsertion as store
from vecflow.storage.db import Database
from vecflow.storage.upsertion import set_task_status
from vecflow.vectors.milvus import ItemCollection, MilvusIndex, VectorIndexError, item_pk

DEFAULT_BATCH_SIZE = 64
MAX_TEXT_CHARS = 32_768
MAX_TEXT_BYTES = 65_535  # Milvus' VARCHAR limit for the stored text

IndexProvider = Callable[[], Awaitable[MilvusIndex]]


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    return "an object" if isinstance(value, dict) else "an array" if isinstance(value, list) else "a string"


def item_problem(payload: dict[str, Any] | None, text_field: str) -> tuple[str, str] | None:
    """(code, reason) when an item's text cannot be embedded, else None."""
    if not payload or text_field not in payload:
        return "MISSING_TEXT", f'the payload has no "{text_field}" field, which holds the text to embed'
    text = payload[text_field]
    if not isinstance(text, str):
        return "INVALID_TEXT", f'payload["{text_field}"] must be a string, got {_json_type(text)}'
    if not text.strip():
        return "EMPTY_TEXT", f'payload["{text_field}"] is empty; give some text to embed'
    size = len(text.encode())
    if len(text) > MAX_TEXT_CHARS or size > MAX_TEXT_BYTES:
        return (
            "TEXT_TOO_LONG",
            f'payload["{text_field}"] has {len(text)} characters ({size} bytes); the limit is {MAX_TEXT_CHARS} '
            f"characters and {MAX_TEXT_BYTES} bytes: split it into several items",
        )
    return None


class UpsertItems:
    """Runs `upsert` jobs."""

    def __init__(
        self, db: Database, embedder: Embedder, index: IndexProvider, batch_size: int = DEFAULT_BATCH_SIZE
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be positive")
        self.db = db
        self.embedder = embedder
        self.index = index
        self.batch_size = batch_size

    async def _set_status(
        self, project_id: str, task_id: str, status: str, only_from: Sequence[str] | None = None
    ) -> None:
        await set_task_status(self.db, project_id, task_id, status, only_from)

    async def cancelled_unstarted(self, job: m.Job) -> None:
        """Its job was cancelled before it ran (CancelUpsertionTask or CancelJob): no handler records it."""
        task_id = (job.params or {})["task_id"]
        await self._set_status(job.project_id, task_id, "canceled", only_from=("pending", "processing"))

    async def __call__(self, ctx: JobContext) -> dict[str, Any]:
        """The `upsert` operation: embed and upsert an upsertion task's items."""
        task_id = str(ctx.params.get("task_id") or ctx.source_id)
        async with self.db.read_session() as s:
            task = await s.get(m.UpsertionTask, (task_id, ctx.project_id))
        if task is None:
            raise JobFailed("TASK_NOT_FOUND", f"upsertion task {task_id} no longer exists")
        await self._set_status(ctx.project_id, task_id, "processing")
        try:
            summary = await self._run(ctx, task)
        except JobCancelled:
            await self._set_status(ctx.project_id, task_id, "canceled")
            raise
        except LeaseLost:  # another worker owns the job now: its status is not ours to write
            raise
        except Exception:  # JobFailed and unexpected errors alike end the job failed
            await self._set_status(ctx.project_id, task_id, "failed")
            raise
        await self._set_status(ctx.project_id, task_id, "done")
        return summary

    async def _run(self, ctx: JobContext, task: m.UpsertionTask) -> dict[str, Any]:
        async with ctx.step("prepare", task_id=task.id, collection=task.collection, items=task.total_items) as step:
            try:
                index = await self.index()
            except VectorIndexError as err:
                raise self._index_failure(err) from err
            step.details.update(model=self.embedder.name, dimension=self.embedder.dimension)

        async def validate(step: Step) -> dict[str, Any]:
            return await self._validate(ctx, task, step)

        await ctx.run_step("validate", validate, items=task.total_items)
        batch_no, last = 0, -1
        started = time.monotonic()
        landed_now = 0
        while True:
            ctx.checkpoint()
            rows = await self._pending(ctx.project_id, task.id, last)
            if not rows:
                break
            batch_no += 1
            last = rows[-1].position
            texts = [str((r.payload or {})[task.text_field]) for r in rows]
            label = {"batch": batch_no, "items": len(rows)}
            async with ctx.step("embed", **label) as step:
                vectors = await self.embedder.embed(texts)
                step.details["truncated"] = await ctx.to_thread(self._truncated, texts)
            async with ctx.step("upsert", **label, collection=task.collection) as step:
                collection = cast(ItemCollection, task.collection)  # checked when the task was created
                landed, failed = await self._upsert(
                    index, collection, ctx.project_id, rows, texts, vectors, analyzer=task.keyword_analyzer
                )
                upserted = await self._mark(ctx.project_id, task.id, landed, failed)
                landed_now += len(landed)
                step.details.update(
                    landed=len(landed), failed=len(failed), upserted_items=upserted, total_items=task.total_items
                )
        counts = await self._counts(ctx.project_id, task.id)
        elapsed = max(time.monotonic() - started, 1e-6)
        summary = {
            "task_id": task.id,
            "collection": task.collection,
            "total_items": task.total_items,
            "upserted_items": counts.get("landed", 0),
            "failed_items": counts.get("failed", 0),
            "batches": batch_no,
            "items_per_second": round(landed_now / elapsed, 1),
        }
        if not counts.get("landed"):
            raise JobFailed(
                "NO_ITEMS_LANDED",
                f"none of the {task.total_items} items could be upserted; see the task's failed_items for why",
                details=summary,
            )
        return summary

    def _truncated(self, texts: Sequence[str]) -> int:
        """How many texts are longer than the model's input (it embeds their beginning)."""
        limit = self.embedder.max_tokens
        tokenizer = self.embedder.tokenizer
        return sum(1 for t in texts if len(t) > limit and count_tokens(t, tokenizer) > limit)

    async def _validate(self, ctx: JobContext, task: m.UpsertionTask, step: Step) -> dict[str, Any]:
        async with self.db.read_session() as s:
            rows = await store.pending_payloads(s, ctx.project_id, task.id)
        problems = {oid: p for oid, payload in rows if (p := item_problem(payload, task.text_field)) is not None}
        if problems:
            async with self.db.session() as s:
                await store.mark_items_invalid(s, ctx.project_id, task.id, problems)
        result = {
            "checked": len(rows),
            "valid": len(rows) - len(problems),
            "invalid": len(problems),
            "codes": dict(Counter(code for code, _ in problems.values())),
        }
        step.details.update(result)
        return result

    async def _counts(self, project_id: str, task_id: str) -> dict[str, int]:
        async with self.db.read_session() as s:
            return await store.item_counts(s, project_id, task_id)

    async def _pending(self, project_id: str, task_id: str, after: int) -> Sequence[m.UpsertionItem]:
        async with self.db.read_session() as s:
            return await store.pending_items(s, project_id, task_id, after, self.batch_size)

    @staticmethod
    def _index_failure(err: VectorIndexError) -> JobFailed:
        code = "VECTOR_INDEX_UNAVAILABLE" if err.reason == "UNAVAILABLE" else "VECTOR_INDEX_ERROR"
        return JobFailed(code, f"the vector index failed: {err}; restart the task to retry")

    async def _upsert(
        self,
        index: MilvusIndex,
        collection: ItemCollection,
        project_id: str,
        rows: Sequence[m.UpsertionItem],
        texts: Sequence[str],
        vectors: Sequence[Sequence[float]],
        *,
        analyzer: str,
    ) -> tuple[list[str], list[tuple[str, str, str]]]:
        """Upsert one batch; returns the landed object_ids and (object_id, code, reason) of refused rows."""
        records: list[dict[str, Any]] = [
            {
                "pk": item_pk(project_id, r.object_id),
                "project_id": project_id,
                "object_id": r.object_id,
                "text": text,
                "dense": list(vec),
                "payload": r.payload or {},
                "item_info": r.item_info or {},
            }
            for r, text, vec in zip(rows, texts, vectors, strict=True)
        ]
        try:
            await index.upsert_items(collection, records, analyzer=analyzer)
            return [r.object_id for r in rows], []
        except VectorIndexError as err:
            if err.reason != "INVALID_ARGUMENT":
                raise self._index_failure(err) from err
            if len(records) == 1:
                return [], [(rows[0].object_id, "UPSERT_REJECTED", f"the vector index refused the item: {err}")]
        landed: list[str] = []
        failed: list[tuple[str, str, str]] = []
        for record in records:  # one bad row must not keep the others out
            try:
                await index.upsert_items(collection, [record], analyzer=analyzer)
                landed.append(record["object_id"])
            except VectorIndexError as err:
                if err.reason != "INVALID_ARGUMENT":
                    raise self._index_failure(err) from err
                failed.append((record["object_id"], "UPSERT_REJECTED", f"the vector index refused the item: {err}"))
        return landed, failed

    async def _mark(
        self, project_id: str, task_id: str, landed: Sequence[str], failed: Sequence[tuple[str, str, str]]
    ) -> int:
        """Record a batch's outcome and recount upserted_items, in one transaction (the checkpoint)."""
        async with self.db.session() as s:
            upserted = await store.record_batch(s, project_id, task_id, landed, failed)
        return upserted
