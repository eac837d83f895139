"""Bookkeeping of vector-store files shared by the store's service and its indexing jobs: statuses, batch
outcome, usage and activity (the store's expiry moves with its activity)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from vecflow.storage import models as m
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
            batch.status, batch.completed_at = status, utcnow()


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
