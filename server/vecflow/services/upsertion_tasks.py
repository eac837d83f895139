"""Upsertion tasks: embed JSON items and upsert them by object_id into one of two Milvus collections, as a job.

Creating
--------
`create` validates the request, then writes the task, its items and its job (operation ``upsert``, source_id
the task id) in one transaction (`JobEngine.submit(..., also=...)`). ``task_id`` is the idempotency key: the
canonical digest of (collection, text_field, items sorted by object_id) is stored in ``items_digest``; the same
id with the same digest returns the existing task (``created=False``, no second job), with another digest it is
ALREADY_EXISTS (``TASK_ID_CONFLICT``). The existence check and the insert share one write transaction: on
SQLite write transactions are serialised in-process, on PostgreSQL a concurrent insert of the same primary key
fails with IntegrityError and the winner is re-read. Limits: ``max_task_items`` items per task and
``max_item_payload_bytes`` of compact UTF-8 JSON for each item's payload and, separately, its item_info
(INVALID_ARGUMENT naming ``items[i].payload``). The whole request is also bounded by gRPC's message size
(VECFLOW_MAX_MESSAGE_BYTES): a larger request is RESOURCE_EXHAUSTED from gRPC itself, before any handler runs.

The job
-------
``prepare`` (load the model, open Milvus), ``validate`` (once; skipped when resumed), then per batch of
``batch_size`` items an ``embed`` and an ``upsert`` step with counts and durations. After each batch its items
are marked ``landed`` and the task's ``upserted_items`` is recounted in one transaction: that is the checkpoint,
so a resumed or restarted job only redoes items still ``pending``. Cancellation is checked at every step
boundary (so it stops at the next batch; items not landed stay out). Rows are upserted under
``f"{project_id}:{object_id}"``, so an object_id that exists is replaced, never duplicated.

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

Status
------
Task status follows its job: pending→pending, running→processing, succeeded→done, failed→failed,
cancelled→canceled. The ``status`` column is written by the handler (start and finish) and by cancel/restart;
reads derive the status from the job itself when the task has one, so a job cancelled or restarted through
JobService, or requeued after a crash, never leaves a stale task status behind.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, case, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.attributes import set_committed_value

from vecflow import validation as v
from vecflow.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound
from vecflow.ids import new_id
from vecflow.jobs.context import JobContext, Step
from vecflow.jobs.engine import JobEngine, LeaseLost
from vecflow.jobs.errors import JobCancelled, JobFailed
from vecflow.jobs.eventlog import SyncWrite
from vecflow.pipeline.chunk import count_tokens
from vecflow.pipeline.embed import Embedder
from vecflow.services.auth import Principal
from vecflow.services.search import check_search, milvus_filter, run_search
from vecflow.storage import models as m
from vecflow.storage import repositories as repo
from vecflow.storage.db import Database
from vecflow.storage.models import utcnow
from vecflow.vectors.milvus import Hit, MilvusIndex, VectorIndexError

MAX_LIST_LIMIT = 500
DEFAULT_LIST_LIMIT = 50

OPERATION = "upsert"
TASKS = m.UpsertionTask.__table__
COLLECTIONS = ("default", "categories")
DEFAULT_TEXT_FIELD = "text"
DEFAULT_MAX_TASK_ITEMS = 10_000
DEFAULT_MAX_ITEM_PAYLOAD_BYTES = 64 * 1024
DEFAULT_BATCH_SIZE = 64
MAX_TASK_ID = 128
MAX_OBJECT_ID = 512
MAX_TEXT_FIELD = 128
MAX_TEXT_CHARS = 32_768
MAX_TEXT_BYTES = 65_535  # Milvus' VARCHAR limit for the stored text
MAX_SEARCH_RESULTS = 50
MAX_PK_BYTES = 640  # the items collections' pk length, once % ' and \ are escaped (3 bytes each)

_TASK_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_PK_ESCAPED = re.compile(r"[%'\\]")

# Job status → task status.
JOB_TO_TASK = {
    "pending": "pending",
    "running": "processing",
    "succeeded": "done",
    "failed": "failed",
    "cancelled": "canceled",
}
TERMINAL = frozenset({"done", "failed", "canceled"})

IndexProvider = Callable[[], Awaitable[MilvusIndex]]


@dataclass(frozen=True)
class NewItem:
    """One item of a CreateUpsertionTask request, as plain JSON values."""

    object_id: str
    payload: dict[str, Any] | None = None
    item_info: dict[str, Any] | None = None


@dataclass(frozen=True)
class Created:
    task: m.UpsertionTask
    failed: Sequence[m.UpsertionItem]
    created: bool


class _TaskExists(Exception):
    """Raised inside the create transaction to roll it back: the task id is taken."""


def items_digest(collection: str, text_field: str, items: Sequence[NewItem]) -> str:
    """sha256 of the canonical JSON of what a task does; item order does not matter (object_ids are unique)."""
    body = {
        "collection": collection,
        "text_field": text_field,
        "items": [
            {"object_id": i.object_id, "payload": i.payload, "item_info": i.item_info}
            for i in sorted(items, key=lambda i: i.object_id)
        ],
    }
    raw = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return hashlib.sha256(raw.encode()).hexdigest()


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


def _effective_status() -> ColumnElement[str]:
    """The task status derived from its job's status (the stored column when it has no job)."""
    return case(
        *[(m.Job.status == job, task) for job, task in JOB_TO_TASK.items()],
        else_=m.UpsertionTask.status,
    )


def _with_job() -> Any:
    return select(m.UpsertionTask, _effective_status().label("effective")).outerjoin(
        m.Job, (m.Job.id == m.UpsertionTask.job_id) & (m.Job.project_id == m.UpsertionTask.project_id)
    )


def _apply(task: m.UpsertionTask, effective: str | None) -> m.UpsertionTask:
    """Show the job-derived status on the row without marking it changed (nothing is ever written)."""
    if effective and effective != task.status:
        set_committed_value(task, "status", effective)
    return task


class UpsertionTaskService:
    def __init__(
        self,
        db: Database,
        engine: JobEngine,
        embedder: Embedder,
        index: IndexProvider,
        *,
        max_task_items: int = DEFAULT_MAX_TASK_ITEMS,
        max_item_payload_bytes: int = DEFAULT_MAX_ITEM_PAYLOAD_BYTES,
        batch_size: int = DEFAULT_BATCH_SIZE,
        max_search_results: int = MAX_SEARCH_RESULTS,
    ) -> None:
        self.max_search_results = max_search_results
        if max_task_items < 1 or max_item_payload_bytes < 1 or batch_size < 1:
            raise ValueError("max_task_items, max_item_payload_bytes and batch_size must be positive")
        self.db = db
        self.engine = engine
        self.embedder = embedder
        self.index = index
        self.max_task_items = max_task_items
        self.max_item_payload_bytes = max_item_payload_bytes
        self.batch_size = batch_size

    # Reading ------------------------------------------------------------------------------------------

    async def get(self, caller: Principal, task_id: str) -> tuple[m.UpsertionTask, Sequence[m.UpsertionItem]]:
        v.required("task_id", task_id)
        async with self.db.read_session() as s:
            row = (
                await s.execute(
                    _with_job().where(m.UpsertionTask.id == task_id, m.UpsertionTask.project_id == caller.project_id)
                )
            ).first()
            if row is None:
                raise NotFound.resource("upsertion task", task_id)
            task = _apply(row[0], row[1])
            return task, await self._failed_items(s, task)

    async def list(
        self, caller: Principal, offset: int, limit: int, status: str
    ) -> tuple[list[tuple[m.UpsertionTask, Sequence[m.UpsertionItem]]], int]:
        if offset < 0:
            raise InvalidArgument.field("offset", f"must be 0 or more, got {offset}")
        if limit < 0:
            raise InvalidArgument.field("limit", f"must be between 0 and {MAX_LIST_LIMIT}, got {limit}")
        limit = DEFAULT_LIST_LIMIT if limit == 0 else min(limit, MAX_LIST_LIMIT)
        where: list[ColumnElement[bool]] = [m.UpsertionTask.project_id == caller.project_id]
        if status:
            where.append(_effective_status() == status)
        async with self.db.read_session() as s:
            total = await s.scalar(
                select(func.count())
                .select_from(m.UpsertionTask)
                .outerjoin(
                    m.Job, (m.Job.id == m.UpsertionTask.job_id) & (m.Job.project_id == m.UpsertionTask.project_id)
                )
                .where(*where)
            )
            stmt = (
                _with_job()
                .where(*where)
                .order_by(m.UpsertionTask.created_at.desc(), m.UpsertionTask.id.desc())
                .offset(offset)
                .limit(limit)
            )
            tasks = [_apply(task, effective) for task, effective in (await s.execute(stmt)).all()]
            return [(t, await self._failed_items(s, t)) for t in tasks], int(total or 0)

    async def require(self, caller: Principal, task_id: str) -> m.UpsertionTask:
        task, _ = await self.get(caller, task_id)
        return task

    @staticmethod
    async def _failed_items(s: object, task: m.UpsertionTask) -> Sequence[m.UpsertionItem]:
        stmt = (
            select(m.UpsertionItem)
            .where(
                m.UpsertionItem.project_id == task.project_id,
                m.UpsertionItem.task_id == task.id,
                m.UpsertionItem.state == "failed",
            )
            .order_by(m.UpsertionItem.position)
        )
        return (await s.scalars(stmt)).all()  # type: ignore[attr-defined]

    # Creating -----------------------------------------------------------------------------------------

    def _check_items(self, caller: Principal, items: Sequence[NewItem]) -> None:
        if not items:
            raise InvalidArgument.field("items", "give at least one item")
        if len(items) > self.max_task_items:
            raise InvalidArgument.field(
                "items",
                f"at most {self.max_task_items} items per task, got {len(items)}; split them into several tasks",
                reason="TOO_MANY_ITEMS",
            )
        seen: dict[str, int] = {}
        limit = self.max_item_payload_bytes
        for pos, item in enumerate(items):
            where = f"items[{pos}]"
            oid = item.object_id
            if not oid:
                raise InvalidArgument.field(f"{where}.object_id", "is required")
            size = len(oid.encode())
            if len(oid) > MAX_OBJECT_ID or size > MAX_OBJECT_ID:
                raise InvalidArgument.field(
                    f"{where}.object_id", f"must be at most {MAX_OBJECT_ID} characters and bytes, got {size} bytes"
                )
            if _CONTROL.search(oid):
                raise InvalidArgument.field(f"{where}.object_id", "must not contain control characters")
            pk_bytes = len(caller.project_id.encode()) + 1 + size + 2 * len(_PK_ESCAPED.findall(oid))
            if pk_bytes > MAX_PK_BYTES:
                raise InvalidArgument.field(
                    f"{where}.object_id", "is too long once its % ' and \\ characters are escaped; use fewer of them"
                )
            if oid in seen:
                raise InvalidArgument.field(
                    f"{where}.object_id",
                    f"{oid!r} is also items[{seen[oid]}].object_id; object_ids must be unique within a task",
                    reason="DUPLICATE_OBJECT_ID",
                )
            seen[oid] = pos
            for name, value in (("payload", item.payload), ("item_info", item.item_info)):
                if value is None:
                    continue
                try:
                    raw = json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()
                except ValueError:
                    raise InvalidArgument.field(f"{where}.{name}", "must not contain NaN or infinite numbers") from None
                if len(raw) > limit:
                    raise InvalidArgument.field(
                        f"{where}.{name}",
                        f"is {len(raw)} bytes of JSON; the limit is {limit} bytes per item",
                        reason="PAYLOAD_TOO_LARGE",
                    )

    async def create(
        self, caller: Principal, task_id: str, items: Sequence[NewItem], collection: str, text_field: str
    ) -> Created:
        if task_id and not _TASK_ID.match(task_id):
            raise InvalidArgument.field(
                "task_id", f"must be 1–{MAX_TASK_ID} characters of letters, digits and . _ : -, got {task_id[:140]!r}"
            )
        collection = collection or COLLECTIONS[0]
        if collection not in COLLECTIONS:
            raise InvalidArgument.field("collection", f"must be one of {', '.join(COLLECTIONS)}")
        text_field = text_field or DEFAULT_TEXT_FIELD
        if len(text_field) > MAX_TEXT_FIELD or _CONTROL.search(text_field):
            raise InvalidArgument.field(
                "text_field", f"must be at most {MAX_TEXT_FIELD} characters without control characters"
            )
        self._check_items(caller, items)
        digest = items_digest(collection, text_field, items)
        if not task_id:
            task_id = new_id("upsertion_task")
        else:
            found = await self._existing(caller, task_id, digest)
            if found is not None:
                return found
        project = caller.project_id

        def write(w: SyncWrite, job: m.Job) -> None:
            tasks = TASKS.c
            if w.conn.execute(select(tasks.id).where(tasks.id == task_id, tasks.project_id == project)).first():
                raise _TaskExists()
            now = utcnow()
            # on PostgreSQL a concurrent create of this id fails here (IntegrityError)
            repo.insert_row(
                w.conn,
                m.UpsertionTask(
                    id=task_id,
                    project_id=project,
                    collection=collection,
                    status="pending",
                    text_field=text_field,
                    items_digest=digest,
                    total_items=len(items),
                    upserted_items=0,
                    job_id=job.id,
                    created_at=now,
                    updated_at=now,
                ),
            )
            w.conn.execute(
                insert(m.UpsertionItem.__table__),
                [
                    {
                        "project_id": project,
                        "task_id": task_id,
                        "object_id": item.object_id,
                        "position": pos,
                        "payload": item.payload,
                        "item_info": item.item_info,
                        "state": "pending",
                        "error_code": "",
                        "error_reason": "",
                    }
                    for pos, item in enumerate(items)
                ],
            )

        try:
            await self.engine.submit(
                project,
                OPERATION,
                source_id=task_id,
                params={"task_id": task_id, "collection": collection, "text_field": text_field},
                on_behalf_of=caller.on_behalf_of,
                also=write,
            )
        except (_TaskExists, IntegrityError):
            found = await self._existing(caller, task_id, digest)
            if found is None:
                raise
            return found
        task, failed = await self.get(caller, task_id)
        return Created(task, failed, True)

    async def _existing(self, caller: Principal, task_id: str, digest: str) -> Created | None:
        """The task with this id (created=False) when its items are the same; None when there is none."""
        try:
            task, failed = await self.get(caller, task_id)
        except NotFound:
            return None
        if task.items_digest != digest:
            raise AlreadyExists(
                f"upsertion task {task_id!r} already exists with other items, collection or text_field; "
                "send the same request to get it back, or use a new task_id",
                reason="TASK_ID_CONFLICT",
                metadata={"task_id": task_id},
            )
        return Created(task, failed, False)

    # Cancel and restart ---------------------------------------------------------------------------------

    async def cancel(self, caller: Principal, task_id: str) -> tuple[m.UpsertionTask, Sequence[m.UpsertionItem]]:
        """Cancel at once when pending, at the next batch when processing; canceled stays as it is."""
        task = await self.require(caller, task_id)
        if task.status == "canceled":
            return await self.get(caller, task_id)
        if task.status in ("done", "failed"):
            raise self._finished(task)
        if not task.job_id:
            raise FailedPrecondition(
                f"upsertion task {task_id} has no job to cancel",
                reason="TASK_ALREADY_FINISHED",
                metadata={"task_id": task_id, "status": task.status},
            )
        try:
            await self.engine.cancel(caller.project_id, task.job_id)
        except (FailedPrecondition, NotFound):  # the job finished meanwhile (or is gone)
            task = await self.require(caller, task_id)
            if task.status == "canceled":
                return await self.get(caller, task_id)
            raise self._finished(task) from None
        return await self.get(caller, task_id)

    async def cancelled_unstarted(self, job: m.Job) -> None:
        """Its job was cancelled before it ran (CancelUpsertionTask or CancelJob): no handler records it."""
        await self._set_status(job.project_id, job.params["task_id"], "canceled", only_from=("pending", "processing"))

    @staticmethod
    def _finished(task: m.UpsertionTask) -> FailedPrecondition:
        return FailedPrecondition(
            f"upsertion task {task.id} is already {task.status}; only pending or processing tasks can be canceled",
            reason="TASK_ALREADY_FINISHED",
            metadata={"task_id": task.id, "status": task.status},
        )

    async def restart(self, caller: Principal, task_id: str) -> tuple[m.UpsertionTask, Sequence[m.UpsertionItem]]:
        """Put a failed or canceled task back to pending; its job redoes only the items not landed yet."""
        task = await self.require(caller, task_id)

        def refuse(why: str) -> FailedPrecondition:
            return FailedPrecondition(
                f"upsertion task {task_id} {why}; only failed or canceled tasks can be restarted",
                reason="TASK_NOT_RESTARTABLE",
                metadata={"task_id": task_id, "status": task.status},
            )

        if task.status not in ("failed", "canceled"):
            raise refuse(f"is {task.status}")
        if not task.job_id:
            raise refuse("has no job")
        try:
            await self.engine.restart(caller.project_id, task.job_id)
        except FailedPrecondition:
            raise refuse("changed state meanwhile") from None
        except NotFound:
            raise refuse("has no job") from None
        await self._set_status(caller.project_id, task_id, "pending", only_from=("failed", "canceled"))
        return await self.get(caller, task_id)

    async def _set_status(
        self, project_id: str, task_id: str, status: str, only_from: Sequence[str] | None = None
    ) -> None:
        stmt = update(m.UpsertionTask).where(m.UpsertionTask.project_id == project_id, m.UpsertionTask.id == task_id)
        if only_from is not None:
            stmt = stmt.where(m.UpsertionTask.status.in_(list(only_from)))
        async with self.db.session() as s:
            await s.execute(stmt.values(status=status, updated_at=utcnow()))

    # The job ------------------------------------------------------------------------------------------------

    async def upsert_job(self, ctx: JobContext) -> dict[str, Any]:
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
                landed, failed = await self._upsert(index, task.collection, ctx.project_id, rows, texts, vectors)
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
            rows = (
                await s.execute(
                    select(m.UpsertionItem.object_id, m.UpsertionItem.payload).where(
                        m.UpsertionItem.project_id == ctx.project_id,
                        m.UpsertionItem.task_id == task.id,
                        m.UpsertionItem.state == "pending",
                    )
                )
            ).all()
        problems = {oid: p for oid, payload in rows if (p := item_problem(payload, task.text_field)) is not None}
        if problems:
            async with self.db.session() as s:
                for oid, (code, reason) in problems.items():
                    await s.execute(
                        update(m.UpsertionItem)
                        .where(
                            m.UpsertionItem.project_id == ctx.project_id,
                            m.UpsertionItem.task_id == task.id,
                            m.UpsertionItem.object_id == oid,
                        )
                        .values(state="failed", error_code=code, error_reason=reason)
                    )
                await s.execute(
                    update(m.UpsertionTask)
                    .where(m.UpsertionTask.project_id == ctx.project_id, m.UpsertionTask.id == task.id)
                    .values(updated_at=utcnow())
                )
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
            rows = (
                await s.execute(
                    select(m.UpsertionItem.state, func.count())
                    .where(m.UpsertionItem.project_id == project_id, m.UpsertionItem.task_id == task_id)
                    .group_by(m.UpsertionItem.state)
                )
            ).all()
        return {state: int(n) for state, n in rows}

    async def _pending(self, project_id: str, task_id: str, after: int) -> Sequence[m.UpsertionItem]:
        async with self.db.read_session() as s:
            return (
                await s.scalars(
                    select(m.UpsertionItem)
                    .where(
                        m.UpsertionItem.project_id == project_id,
                        m.UpsertionItem.task_id == task_id,
                        m.UpsertionItem.state == "pending",
                        m.UpsertionItem.position > after,
                    )
                    .order_by(m.UpsertionItem.position)
                    .limit(self.batch_size)
                )
            ).all()

    @staticmethod
    def _index_failure(err: VectorIndexError) -> JobFailed:
        code = "VECTOR_INDEX_UNAVAILABLE" if err.reason == "UNAVAILABLE" else "VECTOR_INDEX_ERROR"
        return JobFailed(code, f"the vector index failed: {err}; restart the task to retry")

    async def _upsert(
        self,
        index: MilvusIndex,
        collection: str,
        project_id: str,
        rows: Sequence[m.UpsertionItem],
        texts: Sequence[str],
        vectors: Sequence[Sequence[float]],
    ) -> tuple[list[str], list[tuple[str, str, str]]]:
        """Upsert one batch; returns the landed object_ids and (object_id, code, reason) of refused rows."""
        records = [
            {
                "pk": f"{project_id}:{r.object_id}",
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
            await index.upsert_items(collection, records)  # type: ignore[arg-type]
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
                await index.upsert_items(collection, [record])  # type: ignore[arg-type]
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
        scope = (m.UpsertionItem.project_id == project_id, m.UpsertionItem.task_id == task_id)
        async with self.db.session() as s:
            if landed:
                await s.execute(
                    update(m.UpsertionItem)
                    .where(*scope, m.UpsertionItem.object_id.in_(list(landed)))
                    .values(state="landed", error_code="", error_reason="")
                )
            for oid, code, reason in failed:
                await s.execute(
                    update(m.UpsertionItem)
                    .where(*scope, m.UpsertionItem.object_id == oid)
                    .values(state="failed", error_code=code, error_reason=reason)
                )
            upserted = int(await s.scalar(select(func.count()).where(*scope, m.UpsertionItem.state == "landed")) or 0)
            await s.execute(
                update(m.UpsertionTask)
                .where(m.UpsertionTask.project_id == project_id, m.UpsertionTask.id == task_id)
                .values(upserted_items=upserted, updated_at=utcnow())
            )
        return upserted

    # Search ---------------------------------------------------------------------------------------------------

    async def search(
        self,
        caller: Principal,
        collection: str,
        query: str,
        max_num_results: int,
        filter_text: str,
        mode: str,
        score_threshold: float,
        dense_weight: float,
        keyword_weight: float,
    ) -> list[Hit]:
        """Search one collection of the caller's items. Filters: bare fields read payload, `item_info.x` reads
        item_info, `object_id` is the typed column."""
        collection = collection or COLLECTIONS[0]
        if collection not in COLLECTIONS:
            raise InvalidArgument.field("collection", f"must be one of {', '.join(COLLECTIONS)}")
        limit = check_search(
            query, max_num_results, self.max_search_results, mode, dense_weight, keyword_weight, score_threshold
        )
        expr = milvus_filter(
            filter_text, prefix="payload", typed={"object_id": "str"}, json_columns=frozenset({"payload", "item_info"})
        )
        index = await self.index()
        return await run_search(
            self.embedder,
            query,
            mode,
            score_threshold,
            lambda dense, text: index.search_items(
                collection,  # type: ignore[arg-type]
                caller.project_id,
                dense=dense,
                text=text,
                mode=mode,  # type: ignore[arg-type]
                limit=limit,
                filter_expr=expr,
                dense_weight=dense_weight,
                keyword_weight=keyword_weight,
            ),
        )
