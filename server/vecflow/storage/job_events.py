"""Job history rows: appending an event with its job's update, reading pages of events, trimming old ones."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Table, delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from vecflow.storage import models as m
from vecflow.storage.job_records import EventRecord
from vecflow.storage.jobs import JOBS
from vecflow.storage.models import utcnow

EVENTS = m.table(m.JobEvent)


def append_event(
    conn: Connection,
    history_limit: int,
    job_id: str,
    step: str,
    status: str,
    *,
    job_status: str | None = None,
    details: dict[str, Any] | None = None,
    duration_ms: int = 0,
    expect: Collection[str] | None = None,
    where: Mapping[str, Any] | None = None,
    expired_before: datetime | None = None,
    changes: dict[str, Any] | None = None,
) -> EventRecord | None:
    """Append the next event of a job on a synchronous connection (see vecflow.jobs.eventlog.Batch.append)."""
    now = utcnow()
    sets: dict[str, Any] = {"updated_at": now}
    if job_status is not None:
        sets["status"] = job_status
    sets.update(changes or {})
    conditions: dict[str, Any] = dict(where or {})
    details = dict(details or {})
    sqlite = conn.dialect.name == "sqlite"
    if sqlite:  # the hot path: plain SQL, no statement compilation; every value is bound before any write
        details_bound = _bound(conn, EVENTS, "details", details)
        row = _sqlite_update(conn, job_id, sets, conditions, expect, expired_before)
    else:
        stmt = update(JOBS).where(JOBS.c.id == job_id, *(JOBS.c[k] == v for k, v in conditions.items()))
        if expect is not None:
            stmt = stmt.where(JOBS.c.status.in_(list(expect)))
        if expired_before is not None:
            stmt = stmt.where(JOBS.c.lease_expires_at < expired_before)
        stmt = stmt.values(latest_sequence=JOBS.c.latest_sequence + 1, **sets)
        row = conn.execute(stmt.returning(JOBS.c.latest_sequence, JOBS.c.status)).first()
    if row is None:
        return None
    record = EventRecord(
        job_id=job_id,
        sequence=int(row[0]),
        step=step,
        status=status,
        job_status=str(row[1]),
        timestamp=now,
        duration_ms=max(0, int(duration_ms)),
        details=details,
    )
    event = {
        "job_id": job_id,
        "sequence": record.sequence,
        "step": step,
        "status": status,
        "job_status": record.job_status,
        "timestamp": now,
        "duration_ms": record.duration_ms,
        "details": record.details,
    }
    if sqlite:
        names = ", ".join(event)
        marks = ", ".join("?" * len(event))
        values = tuple(details_bound if k == "details" else _bound(conn, EVENTS, k, v) for k, v in event.items())
        conn.exec_driver_sql(f"INSERT INTO job_events ({names}) VALUES ({marks})", values)
    else:
        conn.execute(insert(EVENTS).values(**event))
    if record.sequence > history_limit:
        trim_history(conn, job_id, record.sequence - history_limit)
    return record


def trim_history(conn: Connection, job_id: str, upto: int) -> None:
    """Delete a job's events up to sequence `upto` (the history keeps only the newest ones)."""
    conn.execute(delete(EVENTS).where(EVENTS.c.job_id == job_id, EVENTS.c.sequence <= upto))


_PROCESSORS: dict[tuple[str, str], Any] = {}


def _bound(conn: Connection, table: Table, column: str, value: Any) -> Any:
    """`value` as the column's type hands it to the driver (JSON text, naive UTC datetimes, ...)."""
    key = (table.name, column)
    if key not in _PROCESSORS:
        _PROCESSORS[key] = table.c[column].type.bind_processor(conn.dialect)
    process = _PROCESSORS[key]
    return process(value) if process is not None else value


def _sqlite_update(
    conn: Connection,
    job_id: str,
    sets: dict[str, Any],
    conditions: dict[str, Any],
    expect: Collection[str] | None,
    expired_before: datetime | None,
) -> Any:
    names = list(sets)
    sql = ["UPDATE jobs SET latest_sequence = latest_sequence + 1"]
    sql += [f", {JOBS.c[name].name} = ?" for name in names]
    params = [_bound(conn, JOBS, name, sets[name]) for name in names]
    sql.append(" WHERE id = ?")
    params.append(job_id)
    for name, value in conditions.items():
        sql.append(f" AND {JOBS.c[name].name} = ?")
        params.append(_bound(conn, JOBS, name, value))
    if expect is not None:
        sql.append(f" AND status IN ({', '.join('?' * len(expect))})")
        params += list(expect)
    if expired_before is not None:
        sql.append(" AND lease_expires_at < ?")
        params.append(_bound(conn, JOBS, "lease_expires_at", expired_before))
    sql.append(" RETURNING latest_sequence, status")
    return conn.exec_driver_sql("".join(sql), tuple(params)).first()


async def read_events(
    session: AsyncSession, job_id: str, after_sequence: int, upto: int | None = None, limit: int = 1000
) -> list[EventRecord]:
    """A page of a job's events after `after_sequence` (up to `upto`), oldest first."""
    stmt = select(m.JobEvent).where(m.JobEvent.job_id == job_id, m.JobEvent.sequence > after_sequence)
    if upto is not None:
        stmt = stmt.where(m.JobEvent.sequence <= upto)
    stmt = stmt.order_by(m.JobEvent.sequence).limit(limit)
    return [EventRecord.from_row(r) for r in (await session.scalars(stmt)).all()]


async def oldest_event_sequence(session: AsyncSession, job_id: str) -> int | None:
    """The sequence of a job's oldest kept event (None when it has none)."""
    return await session.scalar(select(func.min(m.JobEvent.sequence)).where(m.JobEvent.job_id == job_id))
