"""Append-only job history: every status change is an event, committed (grouped on SQLite) before it is published."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Collection, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Connection, Table, delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from vecflow.jobs.hub import WatchHub
from vecflow.jobs.records import EventRecord
from vecflow.storage import models as m
from vecflow.storage.db import Database
from vecflow.storage.models import utcnow

log = logging.getLogger("vecflow.jobs")
T = TypeVar("T")

JOBS = m.table(m.Job)
EVENTS = m.table(m.JobEvent)
GROUP_LIMIT = 256  # most events committed in one SQLite transaction

_Queued = tuple[str, str, str, dict[str, Any], "asyncio.Future[EventRecord | None]"]


def _append(
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
    """Append the next event of a job on a synchronous connection (see Batch.append)."""
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
        conn.execute(
            delete(EVENTS).where(EVENTS.c.job_id == job_id, EVENTS.c.sequence <= record.sequence - history_limit)
        )
    return record


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


def _log_failure(waiter: asyncio.Future[EventRecord | None]) -> None:
    if not waiter.cancelled() and waiter.exception() is not None:
        log.error("appending a job event failed", exc_info=waiter.exception())


@dataclass
class Batch:
    """Writes inside one transaction; its events are published once it commits."""

    session: AsyncSession
    history_limit: int
    events: list[EventRecord] = field(default_factory=list)

    async def append(self, job_id: str, step: str, status: str, **kwargs: Any) -> EventRecord | None:
        """Append the next event of a job, optionally moving its status.

        The job row is updated with `changes` (and `status` when job_status is given) only if its
        status is in `expect` and every clause of `where` holds; otherwise nothing is written and
        None is returned. The sequence comes from an atomic increment, so concurrent writers never
        share one.
        """
        await self.session.flush()
        record = await self.session.run_sync(
            lambda sync: _append(sync.connection(), self.history_limit, job_id, step, status, **kwargs)
        )
        if record is not None:
            self.events.append(record)
        return record


@dataclass
class SyncWrite:
    """What `EventLog.transact` hands its work: the connection, and `append` for job events."""

    conn: Connection
    history_limit: int
    events: list[EventRecord] = field(default_factory=list)

    def append(self, job_id: str, step: str, status: str, **kwargs: Any) -> EventRecord | None:
        """As Batch.append, on this transaction."""
        record = _append(self.conn, self.history_limit, job_id, step, status, **kwargs)
        if record is not None:
            self.events.append(record)
        return record


class EventLog:
    """Owns writes to jobs and job_events, and hands committed events to the watch hub."""

    def __init__(self, db: Database, hub: WatchHub, history_limit: int = 100_000) -> None:
        self.db = db
        self.hub = hub
        self.history_limit = history_limit
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="vecflow-eventlog")
        self._queued: list[_Queued] = []
        self._committer: asyncio.Task[None] | None = None

    async def transact(self, work: Callable[[SyncWrite], T]) -> T:
        """Run `work` in one write transaction on a synchronous connection and return what it returns;
        the events it appends are published once the transaction commits.

        On SQLite the whole transaction is one hop to the event log's thread (no round trip to the event
        loop per statement), serialised with the group commits; elsewhere it runs through the async engine.
        """
        if self.db.dialect != "sqlite":
            async with self.batch() as b:
                write_pg: SyncWrite | None = None

                def run_pg(sync: Any) -> T:
                    nonlocal write_pg
                    write_pg = SyncWrite(sync.connection(), self.history_limit)
                    return work(write_pg)

                result = await b.session.run_sync(run_pg)
                b.events += write_pg.events if write_pg is not None else []
            return result
        engine = self.db.sqlite_sync_engine()
        write: SyncWrite | None = None

        def run() -> T:
            nonlocal write
            with engine.begin() as conn:
                write = SyncWrite(conn, self.history_limit)
                return work(write)

        async with self.db.write_lock():
            result = await asyncio.get_running_loop().run_in_executor(self._executor, run)
        for event in write.events if write is not None else []:
            self.hub.publish(event)
        return result

    @asynccontextmanager
    async def batch(self) -> AsyncIterator[Batch]:
        async with self.db.session() as session:
            batch = Batch(session, self.history_limit)
            yield batch
        for event in batch.events:  # committed: now watchers may see them
            self.hub.publish(event)

    async def append(
        self, job_id: str, step: str, status: str, *, wait: bool = True, **kwargs: Any
    ) -> EventRecord | None:
        """Append one event durably and publish it; returns it once committed (None if its checks failed).

        On SQLite, appends that arrive while a commit is under way are grouped into the next transaction
        (group commit): each caller still waits for its own event to be committed, but concurrent jobs share
        one commit, and the whole transaction runs in one hop to a dedicated thread. With `wait=False` the
        caller does not wait (and gets None): for events nothing depends on, such as a step's start or its
        progress; they still commit in order, before any event appended after them. Elsewhere each append
        is its own transaction on the async engine.
        """
        if self.db.dialect != "sqlite":
            async with self.batch() as b:
                return await b.append(job_id, step, status, **kwargs)
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[EventRecord | None] = loop.create_future()
        self._queued.append((job_id, step, status, kwargs, waiter))
        if self._committer is None or self._committer.done():
            self._committer = loop.create_task(self._commit_queued(), name="vecflow-eventlog-commit")
        if not wait:
            waiter.add_done_callback(_log_failure)
            return None
        return await asyncio.shield(waiter)

    async def close(self) -> None:
        """Commit what is still queued (events nobody waited for), then stop the commit thread."""
        if self._committer is not None:
            await asyncio.gather(self._committer, return_exceptions=True)
        self._executor.shutdown(wait=False)

    async def _commit_queued(self) -> None:
        engine = self.db.sqlite_sync_engine()
        while self._queued:
            group, self._queued = self._queued[:GROUP_LIMIT], self._queued[GROUP_LIMIT:]

            def run(group: list[_Queued] = group) -> list[EventRecord | Exception | None]:
                outcomes: list[EventRecord | Exception | None] = []
                with engine.begin() as conn:
                    for job_id, step, status, kwargs, _ in group:
                        try:
                            outcomes.append(_append(conn, self.history_limit, job_id, step, status, **kwargs))
                        except (TypeError, ValueError) as err:  # a value its column cannot take (bound before
                            outcomes.append(err)  # anything of it is written): this caller fails, not its group
                return outcomes

            try:
                async with self.db.write_lock():
                    records = await asyncio.get_running_loop().run_in_executor(self._executor, run)
            except BaseException as err:
                for *_, waiter in group:
                    if not waiter.done():
                        waiter.set_exception(err if isinstance(err, Exception) else RuntimeError(str(err)))
                if not isinstance(err, Exception):
                    raise
                continue
            for (*_, waiter), record in zip(group, records, strict=True):
                if isinstance(record, Exception):
                    if not waiter.done():
                        waiter.set_exception(record)
                    continue
                if record is not None:  # committed: now watchers may see it
                    self.hub.publish(record)
                if not waiter.done():
                    waiter.set_result(record)

    async def read(
        self, job_id: str, after_sequence: int, upto: int | None = None, limit: int = 1000
    ) -> list[EventRecord]:
        stmt = select(m.JobEvent).where(m.JobEvent.job_id == job_id, m.JobEvent.sequence > after_sequence)
        if upto is not None:
            stmt = stmt.where(m.JobEvent.sequence <= upto)
        stmt = stmt.order_by(m.JobEvent.sequence).limit(limit)
        async with self.db.read_session() as s:
            return [EventRecord.from_row(r) for r in (await s.scalars(stmt)).all()]

    async def oldest_sequence(self, job_id: str) -> int | None:
        async with self.db.read_session() as s:
            return await s.scalar(select(func.min(m.JobEvent.sequence)).where(m.JobEvent.job_id == job_id))
