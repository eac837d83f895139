"""Recorded responses of mutating calls made with a request_id (AIP-155), per (project, request_id)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, and_, delete, or_, update
from sqlalchemy.ext.asyncio import AsyncSession

from vecflow.storage import models as m
from vecflow.storage import repositories as repo
from vecflow.storage.models import utcnow

# The response of a call still being produced (by this or another replica). A serialized protobuf message never
# begins with 0x00 (field number 0 is invalid), so no real response equals it.
PENDING = b"\x00vecflow:pending"

_RECORD = m.IdempotencyRecord


def _key(project_id: str, request_id: str) -> ColumnElement[bool]:
    return and_(_RECORD.project_id == project_id, _RECORD.request_id == request_id)


async def recorded_response(session: AsyncSession, project_id: str, request_id: str) -> m.IdempotencyRecord | None:
    """The response recorded for this request id (however old, maybe PENDING); None when there is none."""
    return await session.get(_RECORD, (project_id, request_id))


async def claim(
    session: AsyncSession,
    project_id: str,
    request_id: str,
    method: str,
    request_digest: str,
    expired_before: datetime,
    stale_before: datetime,
) -> bool:
    """Insert a PENDING row for this request id, first dropping its row if that expired (`expired_before`) or is
    a PENDING row whose producer stopped heartbeating (`stale_before`); False when a live row is there."""
    stale = and_(_RECORD.response == PENDING, _RECORD.created_at < stale_before)
    await session.execute(
        delete(_RECORD).where(_key(project_id, request_id), or_(_RECORD.created_at < expired_before, stale))
    )
    values = {
        "project_id": project_id,
        "request_id": request_id,
        "method": method,
        "request_digest": request_digest,
        "response": PENDING,
        "created_at": utcnow(),
    }
    return await session.run_sync(lambda s: repo.insert_ignoring_conflict(s.connection(), m.table(_RECORD), values))


async def heartbeat(session: AsyncSession, project_id: str, request_id: str) -> None:
    """Stamp this request id's PENDING row now: its producer is still at work."""
    await session.execute(
        update(_RECORD).where(_key(project_id, request_id), _RECORD.response == PENDING).values(created_at=utcnow())
    )


async def release(session: AsyncSession, project_id: str, request_id: str) -> None:
    """Delete this request id's row if it is still PENDING (the call failed: the id may be used again)."""
    await session.execute(delete(_RECORD).where(_key(project_id, request_id), _RECORD.response == PENDING))


async def record_response(
    session: AsyncSession, project_id: str, request_id: str, method: str, request_digest: str, response: bytes
) -> None:
    """Record (or replace, a PENDING row too) the response for this request id, stamped now."""
    await session.merge(
        _RECORD(
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
    await session.execute(delete(_RECORD).where(_RECORD.created_at < cutoff))
