"""Vector-store rows: the project's stores page by page, and expiry (stores past their expires_at)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from vecflow.storage import models as m
from vecflow.storage import repositories as repo
from vecflow.storage.models import utcnow


async def stores_page(s: AsyncSession, project_id: str, size: int, token: str) -> tuple[Sequence[m.VectorStore], str]:
    """One page of the project's vector stores, newest first."""
    stmt = select(m.VectorStore).where(m.VectorStore.project_id == project_id)
    return await repo.page_newest_first(s, stmt, m.VectorStore, size, token, {"kind": "vs", "project": project_id})


async def expired_stores(s: AsyncSession, now: datetime) -> list[tuple[str, str]]:
    """(id, project_id) of the stores whose expires_at has passed by `now` and that are not marked expired yet."""
    rows = (
        await s.execute(
            select(m.VectorStore.id, m.VectorStore.project_id).where(
                m.VectorStore.expires_at.is_not(None),
                m.VectorStore.expires_at < now,
                m.VectorStore.status != "expired",
            )
        )
    ).all()
    return [(vs_id, project_id) for vs_id, project_id in rows]


async def mark_expired(s: AsyncSession, vs_id: str) -> None:
    """Mark the store expired, its usage and its files' chunk counts and usage zero (their vectors are gone)."""
    store = await s.get(m.VectorStore, vs_id)
    if store is not None:
        store.status, store.usage_bytes, store.updated_at = "expired", 0, utcnow()
    await s.execute(
        update(m.VectorStoreFile)
        .where(m.VectorStoreFile.vector_store_id == vs_id)
        .values(chunk_count=0, usage_bytes=0, updated_at=utcnow())
    )
