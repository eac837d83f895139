"""Recorded responses of mutating calls made with a request_id (AIP-155), per (project, request_id)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from vecflow.storage import models as m
from vecflow.storage.models import utcnow


async def recorded_response(session: AsyncSession, project_id: str, request_id: str) -> m.IdempotencyRecord | None:
    """The response recorded for this request id (however old); None when there is none."""
    return await session.get(m.IdempotencyRecord, (project_id, request_id))


async def record_response(
    session: AsyncSession, project_id: str, request_id: str, method: str, request_digest: str, response: bytes
) -> None:
    """Record (or replace) the response for this request id, stamped now."""
    await session.merge(
        m.IdempotencyRecord(
            project_id=project_id,
            request_id=request_id,
            method=method,
            request_digest=request_digest,
            response=response,
            created_at=utcnow(),
        )
    )


async def forget_responses_before(session: AsyncSession, cutoff: datetime) -> None:
    """Delete the responses recorded before `cutoff`."""
    await session.execute(delete(m.IdempotencyRecord).where(m.IdempotencyRecord.created_at < cutoff))
