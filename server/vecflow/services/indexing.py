"""A vector store's files and search: adding files (a `vector_store` or `file_batch` job, which runs in
vecflow.operations), cancelling batches, removing files, re-adding replaced files, changing attributes,
deleting and expiring stores, and search over the files' live chunks."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

from vecflow import validation as v
from vecflow.errors import FailedPrecondition, InvalidArgument, NotFound
from vecflow.ids import new_id
from vecflow.jobs.engine import JobEngine
from vecflow.jobs.eventlog import SyncWrite
from vecflow.pipeline.embed import Embedder
from vecflow.services.auth import Principal
from vecflow.services.search import check_search, filter_columns, milvus_filter, run_search
from vecflow.services.vector_stores import VectorStoreService
from vecflow.storage import jobs as job_rows
from vecflow.storage import models as m
from vecflow.storage import repositories as repo
from vecflow.storage import store_files
from vecflow.storage import vector_stores as store_rows
from vecflow.storage.db import AsyncSession, Database
from vecflow.storage.models import utcnow
from vecflow.vectors.milvus import MilvusIndex, chunk_generation

MAX_CANDIDATES = 200  # most hits asked of Milvus for one search
ACTIVITY_GRANULARITY = timedelta(minutes=1)  # last_active_at (expiry) is kept to the minute


class IndexingService:
    def __init__(
        self,
        db: Database,
        engine: JobEngine,
        stores: VectorStoreService,
        embedder: Embedder,
        index_factory: Callable[[int], MilvusIndex],
        max_batch_files: int = 2000,
        max_search_results: int = 50,
    ) -> None:
        self.db = db
        self.engine = engine
        self.stores = stores
        self.embedder = embedder
        self.index_factory = index_factory
        self.index: MilvusIndex | None = None
        self.max_batch_files = max_batch_files
        self.max_search_results = max_search_results
        self._opened = asyncio.Lock()

    async def ready(self) -> MilvusIndex:
        """Load the model and open the Milvus collections once, off the event loop."""
        if self.index is None:
            async with self._opened:
                if self.index is None:
                    await self.embedder.load()
                    index = self.index_factory(self.embedder.dimension)
                    await index.open()
                    self.index = index
        return self.index

    async def close(self) -> None:
        if self.index is not None:
            await self.index.close()
            self.index = None

    # Adding files ---------------------------------------------------------------------------

    async def _resolve(
        self, s: AsyncSession, caller: Principal, parse_result_ids: Sequence[str], file_ids: Sequence[str]
    ) -> dict[str, str]:
        """Map every requested source to file_id → parse_result_id: a file's newest result for file_ids,
        or "" for a file still being parsed (the job waits for it)."""
        total = len(parse_result_ids) + len(file_ids)
        if total == 0:
            raise InvalidArgument.field("parse_result_ids", "give at least one parse_result_id or file_id")
        if total > self.max_batch_files:
            raise InvalidArgument.field(
                "parse_result_ids",
                f"at most {self.max_batch_files} files per request (VECFLOW_MAX_BATCH_FILES), got {total}",
                reason="TOO_MANY_FILES",
            )
        sources: dict[str, str] = {}
        results = await repo.owned_by_id(s, m.ParseResult, caller.project_id, parse_result_ids)
        for pr_id in parse_result_ids:
            row = results.get(pr_id)
            if row is None:
                raise NotFound.resource("parse result", pr_id)
            sources[row.file_id] = row.id
        files = await repo.owned_by_id(s, m.File, caller.project_id, file_ids)
        for file_id in file_ids:
            file = files.get(file_id)
            if file is None:
                raise NotFound.resource("file", file_id)
            if not file.parse_result_id and file.parse_state != "pending":  # a pending one is waited for
                raise FailedPrecondition(
                    f"file {file_id} has no parse result (parse_state {file.parse_state}); parse it first",
                    reason="FILE_NOT_PARSED",
                    metadata={"file_id": file_id, "parse_state": file.parse_state},
                )
            sources[file_id] = file.parse_result_id
        return sources

    async def add_files(
        self,
        caller: Principal,
        vector_store_id: str,
        parse_result_ids: Sequence[str],
        file_ids: Sequence[str],
        attributes: dict[str, Any] | None,
        batch: bool,
    ) -> tuple[m.Job, m.FileBatch | None]:
        v.required("vector_store_id", vector_store_id)
        attributes = v.metadata("attributes", attributes)
        async with self.db.read_session() as s:
            store = await self.stores.owned_store(s, caller, vector_store_id)
            sources = await self._resolve(s, caller, parse_result_ids, file_ids)
            busy = await store_files.in_progress_among(s, store.id, list(sources))
        if busy:
            raise FailedPrecondition(
                f"file {busy[0]} is already being added to this vector store; wait for that job or cancel it",
                reason="FILE_IN_PROGRESS",
                metadata={"file_id": busy[0]},
            )
        batch_row = (
            m.FileBatch(
                id=new_id("file_batch"),
                project_id=caller.project_id,
                vector_store_id=store.id,
                status="in_progress",
                created_at=utcnow(),
            )
            if batch
            else None
        )

        def create(write: SyncWrite, job: m.Job) -> None:
            now = utcnow()
            # First, and in this transaction: a store deleted since it was read above is NOT_FOUND (the row
            # lock this update takes also makes a concurrent delete wait for this transaction).
            if not store_files.touch_in(write.conn, store, now):
                raise NotFound.resource("vector store", store.id)
            # The files too (locked on PostgreSQL, so that a concurrent delete of one either commits first and
            # is seen here, or waits for this transaction and then finds the new vector-store file to remove).
            present = store_files.lock_files(write.conn, list(sources))
            missing = [file_id for file_id in sources if file_id not in present]
            if missing:
                raise NotFound.resource("file", missing[0])
            if batch_row is not None:
                batch_row.job_id = job.id
                repo.insert_row(write.conn, batch_row)
            batch_id = batch_row.id if batch_row is not None else ""
            values = {
                "status": "in_progress",
                "attributes": attributes,
                "batch_id": batch_id,
                "last_error_code": "",
                "last_error_message": "",
                "updated_at": now,
            }
            known = store_files.known_files(write.conn, store.id, list(sources))
            # Already indexed from the same parse result (the store's chunking never changes): nothing to embed.
            # The job skips them; it rewrites the chunks' attributes when those changed.
            unchanged = sorted(
                f
                for f, pr in sources.items()
                if f in known
                and pr
                and known[f].status == "completed"
                and known[f].parse_result_id == pr
                and known[f].chunk_count > 0
            )
            relabelled = [f for f in unchanged if (known[f].attributes or {}) != (attributes or {})]
            if unchanged:  # they count in this batch, with the attributes asked for
                store_files.relabel_files(write.conn, store.id, unchanged, attributes, batch_id, now)
                params = {**(job.params or {}), "unchanged": unchanged, "relabelled": relabelled}
                job_rows.set_job_params(write.conn, job.id, params)
            again = {f: pr for f, pr in sources.items() if f in known and f not in unchanged}
            store_files.add_again(write.conn, store.id, again, values)
            repo.insert_rows(
                write.conn,
                [
                    m.VectorStoreFile(
                        vector_store_id=store.id,
                        file_id=file_id,
                        project_id=caller.project_id,
                        created_at=now,
                        parse_result_id=pr_id,
                        **values,
                    )
                    for file_id, pr_id in sources.items()
                    if file_id not in known
                ],
            )

        job = await self.engine.submit(
            caller.project_id,
            "file_batch" if batch else "vector_store",
            source_id=batch_row.id if batch_row is not None else store.id,
            params={
                "vector_store_id": store.id,
                "file_ids": list(sources),
                "batch_id": batch_row.id if batch_row else "",
            },
            on_behalf_of=caller.on_behalf_of,
            also=create,
        )
        return job, batch_row

    # Batches, removal, deletion ----------------------------------------------------------------

    async def cancel_batch(self, caller: Principal, vector_store_id: str, batch_id: str) -> m.FileBatch:
        batch = await self.stores.require_batch(caller, vector_store_id, batch_id)
        if batch.status != "in_progress":
            raise FailedPrecondition(
                f"file batch {batch_id} is already {batch.status}",
                reason="BATCH_ALREADY_FINISHED",
                metadata={"batch_id": batch_id, "status": batch.status},
            )
        await self.engine.cancel(caller.project_id, batch.job_id)
        async with self.db.read_session() as s:
            return await self.stores.owned_batch(s, caller, vector_store_id, batch_id)

    async def _settled_file(self, caller: Principal, vector_store_id: str, file_id: str) -> m.VectorStoreFile:
        """The store's file, unless it is still being added (FAILED_PRECONDITION, FILE_IN_PROGRESS)."""
        row = await self.stores.require_store_file(caller, vector_store_id, file_id)
        if row.status == "in_progress":
            raise FailedPrecondition(
                f"file {file_id} is still being added; cancel its job or wait for it first",
                reason="FILE_IN_PROGRESS",
                metadata={"file_id": file_id},
            )
        return row

    async def remove_file(self, caller: Principal, vector_store_id: str, file_id: str) -> None:
        await self._settled_file(caller, vector_store_id, file_id)
        store = await self.stores.require_store(caller, vector_store_id)
        index = await self.ready()
        await index.delete_file(caller.project_id, vector_store_id, file_id, analyzer=store.keyword_analyzer)
        async with self.db.session() as s:
            found = await s.get(m.VectorStoreFile, (vector_store_id, file_id))
            if found is not None:
                await s.delete(found)
                await s.flush()
            await store_files.recount_usage(s, vector_store_id)
            await store_files.touch(s, vector_store_id)

    async def reindex_file(self, project_id: str, file_id: str) -> list[str]:
        """Add a file again, with its newest parse result and its attributes, to every vector store that holds it
        (not to one it is being added to right now: that job takes the newest result already). The jobs."""
        rows = await store_files.stores_holding(self.db, project_id, file_id)
        jobs = []
        for vs_id, attributes, on_behalf_of in rows:
            caller = Principal(account_id="", project_id=project_id, key_id="", on_behalf_of=on_behalf_of)
            try:
                job, _ = await self.add_files(caller, vs_id, [], [file_id], attributes, batch=False)
            except (FailedPrecondition, NotFound):  # being added by another job already, or gone meanwhile
                continue
            jobs.append(job.id)
        return jobs

    async def update_file(
        self, caller: Principal, vector_store_id: str, file_id: str, paths: Sequence[str], attributes: Any
    ) -> m.VectorStoreFile:
        """Change a vector-store file's attributes: Milvus rows are rewritten with their stored vectors, then
        the row here (a retry after a failure in between rewrites them again: the same result)."""
        if list(paths) != ["attributes"]:
            raise InvalidArgument.field("update_mask", 'must be exactly "attributes", the one updatable field')
        attributes = v.metadata("attributes", attributes)
        await self._settled_file(caller, vector_store_id, file_id)
        store = await self.stores.require_store(caller, vector_store_id)
        index = await self.ready()
        await index.set_file_attributes(
            caller.project_id, vector_store_id, file_id, attributes, analyzer=store.keyword_analyzer
        )
        async with self.db.session() as s:
            found = await s.get(m.VectorStoreFile, (vector_store_id, file_id))
            if found is None:
                raise NotFound.resource("file", file_id)
            found.attributes, found.updated_at = attributes, utcnow()
            await store_files.touch(s, vector_store_id)
        return await self.stores.require_store_file(caller, vector_store_id, file_id)

    async def delete_store(self, caller: Principal, vector_store_id: str) -> None:
        store = await self.stores.require_store(caller, vector_store_id)
        async with self.db.read_session() as s:
            busy = await store_files.first_in_progress(s, store.id)
        if busy:
            raise FailedPrecondition(
                f"files are still being added to vector store {store.id}; cancel those jobs first",
                reason="VECTOR_STORE_BUSY",
            )
        index = await self.ready()
        await index.delete_vector_store(caller.project_id, store.id, analyzer=store.keyword_analyzer)
        await self.stores.delete(caller, vector_store_id)

    async def expire_stores(self) -> int:
        """Delete the vectors of stores whose expires_at has passed and mark them expired."""
        now = utcnow()
        async with self.db.read_session() as s:
            due = await store_rows.expired_stores(s, now)
        if not due:
            return 0
        index = await self.ready()
        for vs_id, project_id in due:  # from every chunks collection: no need to read each store's analyzer
            await index.delete_vector_store(project_id, vs_id, analyzer=None)
            async with self.db.session() as s:
                await store_rows.mark_expired(s, vs_id)
        return len(due)

    # Search ---------------------------------------------------------------------------------------

    async def search(
        self,
        caller: Principal,
        vector_store_id: str,
        query: str,
        max_num_results: int,
        filter_text: str,
        mode: str,
        score_threshold: float,
        dense_weight: float,
        keyword_weight: float,
    ) -> list[Any]:
        store = await self.stores.require_store(caller, vector_store_id)
        limit = check_search(
            query, max_num_results, self.max_search_results, mode, dense_weight, keyword_weight, score_threshold
        )
        expr = milvus_filter(filter_text, prefix="attributes")
        by_section = "section" in filter_columns(filter_text, prefix="attributes")
        index = await self.ready()
        # While files are being (re-)added, a file may have two generations in Milvus: ask for more, so that
        # dropping the one that is not live still leaves `limit` hits.
        busy = await store_files.any_in_progress(self.db, store.id)
        wanted = limit
        limit = min(2 * limit, MAX_CANDIDATES) if busy else limit

        async def search(dense: list[float] | None, text: str | None) -> list[Any]:
            if by_section and not await index.has_sections(store.keyword_analyzer):
                raise FailedPrecondition(
                    "the Milvus chunks collection of this store was created by a vecflow version without sections, "
                    "so its chunks cannot be filtered by section; to get sections, drop that collection "
                    "(vecflow_chunks) and add the files to their stores again, or filter without section",
                    reason="SECTIONS_UNAVAILABLE",
                )
            return await index.search_chunks(
                caller.project_id,
                store.id,
                dense=dense,
                text=text,
                mode=mode,  # type: ignore[arg-type]
                limit=limit,
                filter_expr=expr,
                dense_weight=dense_weight,
                keyword_weight=keyword_weight,
                analyzer=store.keyword_analyzer,
            )

        hits = await run_search(self.embedder, query, mode, score_threshold, search)
        hits = (await self._of_live_files(store.id, hits))[:wanted]
        if utcnow() - store.last_active_at > ACTIVITY_GRANULARITY:  # one write a minute, not one per search
            async with self.db.session() as s:
                await store_files.touch(s, store.id)
        return hits

    async def _of_live_files(self, vs_id: str, hits: list[Any]) -> list[Any]:
        """The hits of each file's live generation (see vecflow.operations.index_run). Chunks of a deleted file may stay
        in Milvus until its purge job has run (services.purge), and a re-added file has two generations there
        until the new one is complete: neither is ever returned."""
        file_ids = sorted({str(hit.fields.get("file_id", "")) for hit in hits})
        if not file_ids:
            return hits
        live = await store_files.live_generations(self.db, vs_id, file_ids)
        return [hit for hit in hits if live.get(hit.fields.get("file_id", "")) == chunk_generation(hit.pk)]
