"""Reading jobs for the API: the project's jobs, filtered and paged newest first."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from vecflow.storage import models as m
from vecflow.storage import repositories as repo


async def page_jobs(
    session: AsyncSession,
    project_id: str,
    size: int,
    token: str,
    filters: dict[str, Any],
    *,
    status: str = "",
    operation: str = "",
    source_id: str = "",
    correlation_id: str = "",
) -> tuple[Sequence[m.Job], str]:
    """One page of the project's jobs (those matching each filter given), newest first, and the next page's token."""
    stmt = select(m.Job).where(m.Job.project_id == project_id)
    if status:
        stmt = stmt.where(m.Job.status == status)
    if operation:
        stmt = stmt.where(m.Job.operation == operation)
    if source_id:
        stmt = stmt.where(m.Job.source_id == source_id)
    if correlation_id:
        stmt = stmt.where(m.Job.correlation_id == correlation_id)
    return await repo.page_newest_first(session, stmt, m.Job, size, token, filters)
