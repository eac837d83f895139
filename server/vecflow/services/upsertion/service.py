"""Upsertion tasks: create (idempotent by `task_id`), get, list, cancel, restart and search; each task's work is an
`upsert` job (vecflow.operations.upsert).

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

Keyword analyzers
-----------------
A project's collection has one keyword analyzer (its items live in that analyzer's Milvus collection, see
vecflow.vectors.milvus.analyzers): the first task that writes to it records its ``keyword_analyzer`` (english
when unset) in the same transaction as the task (storage.item_collections); later tasks take that one, and one
naming another is FAILED_PRECONDITION (ANALYZER_MISMATCH). A collection that holds english items from before the
choice existed (no record) cannot be switched to another analyzer either. Searches use the recorded analyzer.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from vecflow import validation as v
from vecflow.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound
from vecflow.ids import new_id
from vecflow.jobs.engine import JobEngine
from vecflow.jobs.eventlog import SyncWrite
from vecflow.operations.upsert import IndexProvider
from vecflow.pipeline.embed import Embedder
from vecflow.services.auth import Principal
from vecflow.services.search import check_search, milvus_filter, run_search
from vecflow.services.upsertion.items import Created, NewItem, check_items, items_digest
from vecflow.services.vector_stores import resolve_analyzer
from vecflow.storage import item_collections, paging
from vecflow.storage import models as m
from vecflow.storage import upsertion as store
from vecflow.storage.db import Database, IntegrityError
from vecflow.storage.models import utcnow
from vecflow.vectors.milvus import DEFAULT_ANALYZER, Hit

MAX_LIST_LIMIT = 500
DEFAULT_LIST_LIMIT = 50
OPERATION = "upsert"
COLLECTIONS = ("default", "categories")
DEFAULT_TEXT_FIELD = "text"
DEFAULT_MAX_TASK_ITEMS = 10_000
DEFAULT_MAX_ITEM_PAYLOAD_BYTES = 64 * 1024
MAX_TASK_ID = 128
MAX_TEXT_FIELD = 128
MAX_SEARCH_RESULTS = 50

_TASK_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


TaskPage = list[tuple[m.UpsertionTask, Sequence[m.UpsertionItem]]]  # tasks with their failed items
Hits = list[Hit]


class _TaskExists(Exception):
    """Raised inside the create transaction to roll it back: the task id is taken."""


def _analyzer_mismatch(collection: str, has: str, wanted: str, why: str = "") -> FailedPrecondition:
    return FailedPrecondition(
        f"the project's {collection} collection has the {has} keyword analyzer{why}, not {wanted}; leave "
        f"keyword_analyzer unset (or {has}), or write to the other collection",
        reason="ANALYZER_MISMATCH",
        metadata={"collection": collection, "keyword_analyzer": has},
    )


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
        max_search_results: int = MAX_SEARCH_RESULTS,
    ) -> None:
        self.max_search_results = max_search_results
        if max_task_items < 1 or max_item_payload_bytes < 1:
            raise ValueError("max_task_items and max_item_payload_bytes must be positive")
        self.db = db
        self.engine = engine
        self.embedder = embedder
        self.index = index
        self.max_task_items = max_task_items
        self.max_item_payload_bytes = max_item_payload_bytes

    # Reading ------------------------------------------------------------------------------------------

    async def get(self, caller: Principal, task_id: str) -> tuple[m.UpsertionTask, Sequence[m.UpsertionItem]]:
        v.required("task_id", task_id)
        async with self.db.read_session() as s:
            task = await store.find_task(s, caller.project_id, task_id)
            if task is None:
                raise NotFound.resource("upsertion task", task_id)
            return task, await store.failed_items(s, task)

    async def list(
        self, caller: Principal, offset: int, limit: int, status: str, page_size: int = 0, page_token: str = ""
    ) -> tuple[TaskPage, int, str]:
        """The caller's tasks, newest first, with their failed items; the count of all that match; the next page's
        token. Pages by token when page_size or page_token is given, else by offset and limit (the seed API)."""
        if page_size or page_token:
            if offset or limit:
                raise InvalidArgument.field(
                    "page_token", "page by token (page_size, page_token) or by offset and limit, not both"
                )
            return await self._page(caller, status, page_size, page_token)
        if offset < 0:
            raise InvalidArgument.field("offset", f"must be 0 or more, got {offset}")
        if limit < 0:
            raise InvalidArgument.field("limit", f"must be between 0 and {MAX_LIST_LIMIT}, got {limit}")
        limit = DEFAULT_LIST_LIMIT if limit == 0 else min(limit, MAX_LIST_LIMIT)
        async with self.db.read_session() as s:
            total = await store.count_tasks(s, caller.project_id, status)
            tasks = await store.tasks_newest_first(s, caller.project_id, status, offset, limit)
            return [(t, await store.failed_items(s, t)) for t in tasks], total, ""

    async def _page(self, caller: Principal, status: str, page_size: int, page_token: str) -> tuple[TaskPage, int, str]:
        size = paging.page_size(page_size)
        filters = {"kind": "upsertion_tasks", "project": caller.project_id, "s": status}
        async with self.db.read_session() as s:
            total = await store.count_tasks(s, caller.project_id, status)
            tasks, token = await store.page_tasks(s, caller.project_id, status, size, page_token, filters)
            return [(t, await store.failed_items(s, t)) for t in tasks], total, token

    async def require(self, caller: Principal, task_id: str) -> m.UpsertionTask:
        task, _ = await self.get(caller, task_id)
        return task

    # Creating -----------------------------------------------------------------------------------------

    async def create(
        self,
        caller: Principal,
        task_id: str,
        items: Sequence[NewItem],
        collection: str,
        text_field: str,
        keyword_analyzer: str = "",
    ) -> Created:
        if task_id and not _TASK_ID.match(task_id):
            raise InvalidArgument.field(
                "task_id", f"must be 1–{MAX_TASK_ID} characters of letters, digits and . _ : -, got {task_id[:140]!r}"
            )
        collection = collection or COLLECTIONS[0]
        if collection not in COLLECTIONS:
            raise InvalidArgument.field("collection", f"must be one of {', '.join(COLLECTIONS)}")
        text_field = text_field or DEFAULT_TEXT_FIELD
        if len(text_field) > MAX_TEXT_FIELD or v.ASCII_CONTROL.search(text_field):
            raise InvalidArgument.field(
                "text_field", f"must be at most {MAX_TEXT_FIELD} characters without control characters"
            )
        wanted = resolve_analyzer(keyword_analyzer) if keyword_analyzer else ""
        check_items(caller.project_id, items, self.max_task_items, self.max_item_payload_bytes)
        digest = items_digest(collection, text_field, items)
        if not task_id:
            task_id = new_id("upsertion_task")
        else:
            found = await self._existing(caller, task_id, digest)
            if found is not None:
                return found
        project = caller.project_id
        await self._check_unrecorded(project, collection, wanted)

        def write(w: SyncWrite, job: m.Job) -> None:
            if store.task_exists_in(w.conn, project, task_id):
                raise _TaskExists()
            analyzer = item_collections.claim_in(w.conn, project, collection, wanted or DEFAULT_ANALYZER)
            if wanted and analyzer != wanted:
                raise _analyzer_mismatch(collection, analyzer, wanted)
            now = utcnow()
            store.insert_task_in(  # on PostgreSQL a concurrent create of this id fails here (IntegrityError)
                w.conn,
                m.UpsertionTask(
                    id=task_id,
                    project_id=project,
                    collection=collection,
                    status="pending",
                    text_field=text_field,
                    keyword_analyzer=analyzer,
                    items_digest=digest,
                    total_items=len(items),
                    upserted_items=0,
                    job_id=job.id,
                    created_at=now,
                    updated_at=now,
                ),
                items,
            )

        for attempt in range(2):
            try:
                await self.engine.submit(
                    project,
                    OPERATION,
                    source_id=task_id,
                    params={"task_id": task_id, "collection": collection, "text_field": text_field},
                    on_behalf_of=caller.on_behalf_of,
                    also=write,
                )
                break
            except (_TaskExists, IntegrityError):
                found = await self._existing(caller, task_id, digest)
                if found is not None:
                    return found
                if attempt:  # not the id: a concurrent first task of the collection claimed its analyzer; again
                    raise
        task, failed = await self.get(caller, task_id)
        return Created(task, failed, True)

    async def _check_unrecorded(self, project_id: str, collection: str, wanted: str) -> None:
        """A collection with no analyzer recorded may hold english items from before the choice: those keep it."""
        if not wanted or wanted == DEFAULT_ANALYZER:
            return
        if await item_collections.analyzer_of(self.db, project_id, collection) is not None:
            return  # recorded: the create transaction compares
        index = await self.index()
        if await index.count_items(collection, project_id):  # type: ignore[arg-type]
            raise _analyzer_mismatch(collection, DEFAULT_ANALYZER, wanted, " (it holds items from before analyzers)")

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
        await store.set_task_status(self.db, caller.project_id, task_id, "pending", only_from=("failed", "canceled"))
        return await self.get(caller, task_id)

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
    ) -> Hits:
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
        analyzer = await item_collections.analyzer_of(self.db, caller.project_id, collection) or DEFAULT_ANALYZER
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
                analyzer=analyzer,
            ),
        )
