"""Bookkeeping of vector-store files shared by the store's service and its indexing jobs: statuses, batch
outcome, usage and activity (the store's expiry moves with its activity), listing and in-progress checks,
search's live generations, the add-files transaction's statements and the indexing run's reads."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from vecflow.storage import models as m
from vecflow.storage import repositories as repo
from vecflow.storage import webhooks
from vecflow.storage.db import Database
from vecflow.storage.models import utcnow


async def set_files(db: Database, vs_id: str, file_ids: Sequence[str], status: str, code: str, message: str) -> None:
    """Settle the store's files still in progress (a failure keeps its code and message)."""
    if not file_ids:
        return
    async with db.session() as s:
        await s.execute(
            update(m.VectorStoreFile)
            .where(
                m.VectorStoreFile.vector_store_id == vs_id,
                m.VectorStoreFile.file_id.in_(list(file_ids)),
                m.VectorStoreFile.status == "in_progress",
            )
            .values(
                status=status,
                last_error_code=code if status == "failed" else "",
                last_error_message=message if status == "failed" else "",
                updated_at=utcnow(),
            )
        )


async def finish_batch(db: Database, batch_id: str, status: str) -> None:
    """Record a file batch's outcome, unless it has one already (no batch: nothing to do)."""
    if not batch_id:
        return
    async with db.session() as s:
        batch = await s.get(m.FileBatch, batch_id)
        if batch is not None and batch.status == "in_progress":
            now = utcnow()
            batch.status, batch.completed_at = status, now
            if status == "completed":  # the outbox, in this transaction
                done = (batch.project_id, batch.id, batch.vector_store_id, batch.job_id, now)
                await s.run_sync(lambda sync: webhooks.file_batch_completed(sync.connection(), *done))


async def recount_usage(s: AsyncSession, vs_id: str) -> None:
    """The store's usage_bytes: the sum over its completed files."""
    total = await s.scalar(
        select(func.coalesce(func.sum(m.VectorStoreFile.usage_bytes), 0)).where(
            m.VectorStoreFile.vector_store_id == vs_id, m.VectorStoreFile.status == "completed"
        )
    )
    store = await s.get(m.VectorStore, vs_id)
    if store is not None:
        store.usage_bytes = int(total or 0)


def activity(store: m.VectorStore, now: datetime) -> dict[str, Any]:
    """The columns that record activity on a store now (its expiry moves with it)."""
    values: dict[str, Any] = {"last_active_at": now, "updated_at": now}
    if store.expires_after_days:
        values["expires_at"] = now + timedelta(days=store.expires_after_days)
    return values


async def touch(s: AsyncSession, vs_id: str) -> None:
    """Record activity on the store now."""
    store = await s.get(m.VectorStore, vs_id)
    if store is not None:
        for key, value in activity(store, utcnow()).items():
            setattr(store, key, value)


# The store's files: listing, in-progress checks, search's live generations ------------------------------

VS_FILES = m.table(m.VectorStoreFile)
FILES = m.table(m.File)
STORES = m.table(m.VectorStore)
JOBS = m.table(m.Job)

# Hot-path statements, built once: only their parameters change from call to call.
_ANY_IN_PROGRESS = (
    select(VS_FILES.c.file_id)
    .where(VS_FILES.c.vector_store_id == bindparam("vs_id"), VS_FILES.c.status == "in_progress")
    .limit(1)
)
_STORE_FILE = update(VS_FILES).where(
    VS_FILES.c.vector_store_id == bindparam("store_id"), VS_FILES.c.file_id == bindparam("source_file_id")
)


async def files_page(
    s: AsyncSession, vs_id: str, batch_id: str, status: str, size: int, token: str
) -> tuple[Sequence[m.VectorStoreFile], str]:
    """One page of the store's files (of one batch, with one status, when given), ordered by file id."""
    stmt = select(m.VectorStoreFile).where(m.VectorStoreFile.vector_store_id == vs_id)
    if batch_id:
        stmt = stmt.where(m.VectorStoreFile.batch_id == batch_id)
    if status:
        stmt = stmt.where(m.VectorStoreFile.status == status)
    filters = {"kind": "vsf", "vs": vs_id, "batch": batch_id, "status": status}
    return await repo.page_by_key(s, stmt, [m.VectorStoreFile.file_id], size, token, filters)


async def in_progress_among(s: AsyncSession, vs_id: str, file_ids: Sequence[str]) -> Sequence[str]:
    """Those of `file_ids` that are being added to the store right now."""
    return (
        await s.scalars(
            select(m.VectorStoreFile.file_id).where(
                m.VectorStoreFile.vector_store_id == vs_id,
                m.VectorStoreFile.file_id.in_(list(file_ids)),
                m.VectorStoreFile.status == "in_progress",
            )
        )
    ).all()


async def first_in_progress(s: AsyncSession, vs_id: str) -> str | None:
    """A file being added to the store right now, if any."""
    return await s.scalar(
        select(m.VectorStoreFile.file_id).where(
            m.VectorStoreFile.vector_store_id == vs_id, m.VectorStoreFile.status == "in_progress"
        )
    )


async def any_in_progress(db: Database, vs_id: str) -> bool:
    """Whether files are being added to the store right now (the hot-path check of every search)."""
    return await db.read(lambda conn: conn.execute(_ANY_IN_PROGRESS, {"vs_id": vs_id}).first()) is not None


async def live_generations(db: Database, vs_id: str, file_ids: Sequence[str]) -> dict[str, str]:
    """file_id → live generation, for those of `file_ids` the store holds."""
    rows = await db.read(
        lambda conn: conn.execute(
            select(VS_FILES.c.file_id, VS_FILES.c.live_generation).where(
                VS_FILES.c.vector_store_id == vs_id, VS_FILES.c.file_id.in_(file_ids)
            )
        ).all()
    )
    return {file_id: generation for file_id, generation in rows}


async def stores_holding(db: Database, project_id: str, file_id: str) -> list[tuple[str, Any, str]]:
    """(vector_store_id, attributes, the file's on_behalf_of) of every store that holds the file and is not
    adding it right now, by store id."""
    rows = await db.read(
        lambda conn: conn.execute(
            select(VS_FILES.c.vector_store_id, VS_FILES.c.attributes, FILES.c.on_behalf_of)
            .join(FILES, FILES.c.id == VS_FILES.c.file_id)
            .where(
                VS_FILES.c.project_id == project_id,
                VS_FILES.c.file_id == file_id,
                VS_FILES.c.status != "in_progress",
            )
            .order_by(VS_FILES.c.vector_store_id)
        ).all()
    )
    return [(vs_id, attributes, on_behalf_of) for vs_id, attributes, on_behalf_of in rows]


# The add-files transaction (sync: it runs in the job's submit transaction) -------------------------------


@dataclass(frozen=True)
class KnownFile:
    """What the add-files transaction reads of a file the store holds already."""

    status: str
    parse_result_id: str
    chunk_count: int
    attributes: dict[str, Any] | None


def touch_in(conn: Connection, store: m.VectorStore, now: datetime) -> bool:
    """Record activity on the store now (a row lock on it till the transaction ends); False if it is gone."""
    touched = conn.execute(update(STORES).where(STORES.c.id == store.id).values(**activity(store, now)))
    return bool(touched.rowcount)


def lock_files(conn: Connection, file_ids: Sequence[str]) -> set[str]:
    """Those of `file_ids` that exist, locked till the transaction ends (FOR UPDATE on PostgreSQL)."""
    return set(conn.execute(select(FILES.c.id).where(FILES.c.id.in_(list(file_ids))).with_for_update()).scalars())


def known_files(conn: Connection, vs_id: str, file_ids: Sequence[str]) -> dict[str, KnownFile]:
    """file_id → its state, for those of `file_ids` the store holds already."""
    files = VS_FILES.c
    return {
        row.file_id: KnownFile(row.status, row.parse_result_id, row.chunk_count, row.attributes)
        for row in conn.execute(
            select(files.file_id, files.status, files.parse_result_id, files.chunk_count, files.attributes).where(
                files.vector_store_id == vs_id, files.file_id.in_(list(file_ids))
            )
        )
    }


def relabel_files(
    conn: Connection, vs_id: str, file_ids: Sequence[str], attributes: Any, batch_id: str, now: datetime
) -> None:
    """Files kept as they are count in this batch, with these attributes."""
    files = VS_FILES.c
    conn.execute(
        update(VS_FILES)
        .where(files.vector_store_id == vs_id, files.file_id.in_(file_ids))
        .values(attributes=attributes, batch_id=batch_id, updated_at=now)
    )


def add_again(conn: Connection, vs_id: str, parse_results: dict[str, str], values: dict[str, Any]) -> None:
    """Files the store holds already are added again: file_id → parse_result_id, and the columns they get."""
    again = [
        {"store_id": vs_id, "source_file_id": file_id, "parse_result_id": pr_id, **values}
        for file_id, pr_id in parse_results.items()
    ]
    if again:
        conn.execute(_STORE_FILE, again)


# The indexing run's reads --------------------------------------------------------------------------------


async def files_in_store(s: AsyncSession, vs_id: str, file_ids: Sequence[str]) -> Sequence[m.VectorStoreFile]:
    """The store's rows of those of `file_ids` it holds."""
    return (
        await s.scalars(
            select(m.VectorStoreFile).where(
                m.VectorStoreFile.vector_store_id == vs_id, m.VectorStoreFile.file_id.in_(list(file_ids))
            )
        )
    ).all()


async def settled_among(s: AsyncSession, vs_id: str, file_ids: Sequence[str]) -> set[str]:
    """Those of `file_ids` that are completed or failed in the store (finished by an earlier attempt)."""
    return set(
        (
            await s.scalars(
                select(m.VectorStoreFile.file_id).where(
                    m.VectorStoreFile.vector_store_id == vs_id,
                    m.VectorStoreFile.file_id.in_(list(file_ids)),
                    m.VectorStoreFile.status.in_(["completed", "failed"]),
                )
            )
        ).all()
    )


async def file_attributes(db: Database, vs_id: str, file_ids: Sequence[str]) -> dict[str, Any]:
    """file_id → its attributes in the store, for those of `file_ids` it holds."""
    return await db.read(
        lambda conn: dict(
            conn.execute(
                select(VS_FILES.c.file_id, VS_FILES.c.attributes).where(
                    VS_FILES.c.vector_store_id == vs_id, VS_FILES.c.file_id.in_(file_ids)
                )
            ).all()
        )
    )


async def parse_progress(s: AsyncSession, vs_id: str, file_ids: Sequence[str]) -> list[tuple[Any, ...]]:
    """For each of `file_ids` the store holds: (file_id, its parse_result_id in the store, then of the file, None
    when it is deleted: id, parse_state, parse_error_code, parse_error_message, its parse job's status,
    parse_job_id)."""
    vsf, f, job = m.VectorStoreFile, m.File, m.Job
    rows = (
        await s.execute(
            select(
                vsf.file_id,
                vsf.parse_result_id,
                f.id,
                f.parse_state,
                f.parse_error_code,
                f.parse_error_message,
                job.status,
                f.parse_job_id,
            )
            .join(f, f.id == vsf.file_id, isouter=True)
            .join(job, job.id == f.parse_job_id, isouter=True)
            .where(vsf.vector_store_id == vs_id, vsf.file_id.in_(list(file_ids)))
        )
    ).all()
    return [tuple(row) for row in rows]


async def names_and_results(s: AsyncSession, file_ids: Sequence[str]) -> dict[str, tuple[str, str]]:
    """file_id → (name, parse_result_id) of those of `file_ids` that exist."""
    return {
        file_id: (name, result)
        for file_id, name, result in (
            await s.execute(select(m.File.id, m.File.name, m.File.parse_result_id).where(m.File.id.in_(file_ids)))
        ).all()
    }
