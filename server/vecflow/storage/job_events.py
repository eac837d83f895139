"""Job history rows: appending an event with its job's update, reading pages of events, trimming old ones.

On PostgreSQL each append also sends `NOTIFY vecflow_job_events, '<job_id>:<sequence>:<origin>'` in its
transaction (delivered on commit), and `NotifyConnection` is the LISTEN side (vecflow.jobs.listener).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Table, delete, func, insert, select, update
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession

from vecflow.statuses import JobStatus
from vecflow.storage import models as m
from vecflow.storage import webhooks
from vecflow.storage.job_records import EventRecord
from vecflow.storage.jobs import JOBS
from vecflow.storage.models import utcnow

EVENTS = m.table(m.JobEvent)
NOTIFY_CHANNEL = "vecflow_job_events"

log = logging.getLogger("vecflow.jobs")


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
    origin: str = "",
) -> EventRecord | None:
    """Append the next event of a job on a synchronous connection (see vecflow.jobs.eventlog.Batch.append).

    On PostgreSQL the insert also notifies NOTIFY_CHANNEL with `job_id:sequence:origin` (`origin`: the
    writing event log, so that its own listener skips what it publishes itself)."""
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
    elif conn.dialect.name == "postgresql":  # the notification rides on the insert: no extra round trip
        payload = f"{job_id}:{record.sequence}:{origin}"
        conn.execute(insert(EVENTS).values(**event).returning(func.pg_notify(NOTIFY_CHANNEL, payload)))
    else:
        conn.execute(insert(EVENTS).values(**event))
    if job_status is not None and JobStatus(record.job_status).terminal:  # the outbox, in this transaction
        webhooks.job_ended(conn, job_id, record.sequence, now)
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


async def latest_sequences(session: AsyncSession, job_ids: Sequence[str]) -> dict[str, int]:
    """The latest sequence of each of these jobs (jobs that do not exist are left out)."""
    found: dict[str, int] = {}
    for start in range(0, len(job_ids), 1000):
        stmt = select(JOBS.c.id, JOBS.c.latest_sequence).where(JOBS.c.id.in_(job_ids[start : start + 1000]))
        found.update((row[0], int(row[1])) for row in await session.execute(stmt))
    return found


def parse_notification(payload: str) -> tuple[str, int, str] | None:
    """(job_id, sequence, origin) from a NOTIFY_CHANNEL payload; None for one this version does not read."""
    job_id, _, rest = payload.partition(":")
    sequence, _, origin = rest.partition(":")
    if not job_id or not sequence.isdigit():
        return None
    return job_id, int(sequence), origin


class NotifyConnection:
    """One raw asyncpg connection that LISTENs on NOTIFY_CHANNEL (PostgreSQL only).

    `on_event(job_id, sequence, origin)` is called for each notification, in commit order;
    `on_lost()` once if the connection drops (not after `close()`)."""

    def __init__(self, conn: Any) -> None:
        self._conn = conn
        self._closing = False

    @classmethod
    async def open(
        cls, url: str, on_event: Callable[[str, int, str], None], on_lost: Callable[[], None]
    ) -> NotifyConnection:
        import asyncpg  # type: ignore[import-untyped]  # ships no type hints

        dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        conn = await asyncpg.connect(dsn)
        listening = cls(conn)

        def notified(_conn: Any, _pid: int, _channel: str, payload: str) -> None:
            parsed = parse_notification(payload)
            if parsed is None:
                log.warning("ignoring an unreadable job event notification", extra={"payload": payload[:200]})
                return
            on_event(*parsed)

        def terminated(_conn: Any) -> None:
            if not listening._closing:
                on_lost()

        conn.add_termination_listener(terminated)
        try:
            await conn.add_listener(NOTIFY_CHANNEL, notified)
        except BaseException:
            await listening.close()
            raise
        return listening

    @property
    def backend_pid(self) -> int:
        """The PostgreSQL backend process of this connection (pg_stat_activity.pid)."""
        return int(self._conn.get_server_pid())

    def is_closed(self) -> bool:
        return bool(self._conn.is_closed())

    async def close(self) -> None:
        self._closing = True
        if not self._conn.is_closed():
            try:
                await self._conn.close(timeout=5)
            except Exception:  # already broken: drop it
                self._conn.terminate()
