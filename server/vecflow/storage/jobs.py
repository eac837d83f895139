"""Job rows: the submit insert, claiming the next pending job, lease renewal and expiry, checkpointed state."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, RowMapping, Select, bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from vecflow.statuses import JobStatus
from vecflow.storage import models as m
from vecflow.storage.models import utcnow
from vecflow.storage.repositories import insert_row

JOBS = m.table(m.Job)
CLAIMED_KEYS = (
    "id",
    "project_id",
    "operation",
    "source_id",
    "params",
    "state",
    "cancel_requested",
    "correlation_id",
    "trace_context",
)
_CLAIMED = [JOBS.c[k] for k in (*CLAIMED_KEYS, "attempt", "started_at")]
_CLAIMED_JOB = select(*_CLAIMED).where(JOBS.c.id == bindparam("job_id"))


def insert_job(conn: Connection, job: m.Job) -> None:
    """Insert a new job row on the submitting transaction's connection."""
    insert_row(conn, job)


@lru_cache(maxsize=8)
def _next_pending(operations: tuple[str, ...], dialect: str) -> Select[Any]:
    """The oldest pending job of `operations` (built once per set of operations and dialect)."""
    stmt = (
        select(JOBS.c.id)
        .where(JOBS.c.status == JobStatus.PENDING, JOBS.c.operation.in_(operations))
        .order_by(JOBS.c.created_at)
        .limit(1)
    )
    if dialect == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    return stmt


def next_pending_job(conn: Connection, operations: tuple[str, ...]) -> RowMapping | None:
    """The oldest pending job of `operations` to claim (locked, skipping locked rows, on PostgreSQL): its
    CLAIMED_KEYS columns with attempt and started_at, or None when there is none."""
    job_id = conn.execute(_next_pending(operations, conn.dialect.name)).scalar()
    if job_id is None:
        return None
    return conn.execute(_CLAIMED_JOB, {"job_id": job_id}).mappings().one()


async def save_job_state(session: AsyncSession, job_id: str, owner: str, state: dict[str, Any]) -> bool:
    """Store a running job's checkpoint state if `owner` still holds its lease; False when it does not."""
    result = await session.execute(
        update(JOBS)
        .where(JOBS.c.id == job_id, JOBS.c.lease_owner == owner, JOBS.c.status == JobStatus.RUNNING)
        .values(state=state, updated_at=utcnow())
    )
    return result.rowcount != 0  # type: ignore[attr-defined]


async def renew_lease(session: AsyncSession, job_id: str, owner: str, lease_seconds: float) -> bool | None:
    """Extend `owner`'s lease on a running job: whether a cancel was requested, or None if the lease is lost."""
    row = (
        await session.execute(
            update(JOBS)
            .where(JOBS.c.id == job_id, JOBS.c.lease_owner == owner, JOBS.c.status == JobStatus.RUNNING)
            .values(lease_expires_at=utcnow() + timedelta(seconds=lease_seconds))
            .returning(JOBS.c.cancel_requested)
        )
    ).first()
    return None if row is None else row[0]


async def expired_leases(session: AsyncSession, now: datetime) -> Sequence[tuple[str, bool, str]]:
    """Running jobs whose lease expired before `now`: (id, cancel_requested, lease_owner)."""
    return (
        await session.execute(
            select(m.Job.id, m.Job.cancel_requested, m.Job.lease_owner).where(
                m.Job.status == JobStatus.RUNNING, m.Job.lease_expires_at < now
            )
        )
    ).all()


def set_job_params(conn: Connection, job_id: str, params: dict[str, Any]) -> None:
    """Replace a job's params inside the transaction that submits it (what it works on, learnt while submitting)."""
    conn.execute(update(JOBS).where(JOBS.c.id == job_id).values(params=params))
