"""Append-only job history: every status change is an event, committed (grouped on SQLite) before it is published."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Collection, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from vecflow.jobs.hub import WatchHub
from vecflow.jobs.records import EventRecord
from vecflow.storage import models as m
from vecflow.storage.db import Database
from vecflow.storage.models import utcnow

JOBS = m.Job.__table__
EVENTS = m.JobEvent.__table__
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
    where: Sequence[Any] = (),
    changes: dict[str, Any] | None = None,
) -> EventRecord | None:
    """Append the next event of a job on a synchronous connection (see Batch.append)."""
    now = utcnow()
    values: dict[str, Any] = {"latest_sequence": JOBS.c.latest_sequence + 1, "updated_at": now}
    if job_status is not None:
        values["status"] = job_status
    values.update(changes or {})
    stmt = update(JOBS).where(JOBS.c.id == job_id, *where)
    if expect is not None:
        stmt = stmt.where(JOBS.c.status.in_(list(expect)))
    row = conn.execute(stmt.values(**values).returning(JOBS.c.latest_sequence, JOBS.c.status)).first()
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
        details=dict(details or {}),
    )
    conn.execute(
        insert(EVENTS).values(
            job_id=job_id,
            sequence=record.sequence,
            step=step,
            status=status,
            job_status=record.job_status,
            timestamp=now,
            duration_ms=record.duration_ms,
            details=record.details,
        )
    )
    if record.sequence > history_limit:
        conn.execute(
            delete(EVENTS).where(EVENTS.c.job_id == job_id, EVENTS.c.sequence <= record.sequence - history_limit)
        )
    return record


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


class EventLog:
    """Owns writes to jobs and job_events, and hands committed events to the watch hub."""

    def __init__(self, db: Database, hub: WatchHub, history_limit: int = 100_000) -> None:
        self.db = db
        self.hub = hub
        self.history_limit = history_limit
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="vecflow-eventlog")
        self._queued: list[_Queued] = []
        self._committer: asyncio.Task[None] | None = None

    @asynccontextmanager
    async def batch(self) -> AsyncIterator[Batch]:
        async with self.db.session() as session:
            batch = Batch(session, self.history_limit)
            yield batch
        for event in batch.events:  # committed: now watchers may see them
            self.hub.publish(event)

    async def append(self, job_id: str, step: str, status: str, **kwargs: Any) -> EventRecord | None:
        """Append one event durably and publish it; returns it once committed (None if its checks failed).

        On SQLite, appends that arrive while a commit is under way are grouped into the next transaction
        (group commit): each caller still waits for its own event to be committed, but concurrent jobs share
        one commit, and the whole transaction runs in one hop to a dedicated thread. Elsewhere each append
        is its own transaction on the async engine.
        """
        if self.db.dialect != "sqlite":
            async with self.batch() as b:
                return await b.append(job_id, step, status, **kwargs)
        json.dumps(kwargs.get("details") or {})  # unserialisable details fail this caller, not its group
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[EventRecord | None] = loop.create_future()
        self._queued.append((job_id, step, status, kwargs, waiter))
        if self._committer is None or self._committer.done():
            self._committer = loop.create_task(self._commit_queued(), name="vecflow-eventlog-commit")
        return await asyncio.shield(waiter)

    async def _commit_queued(self) -> None:
        engine = self.db.sqlite_sync_engine()
        while self._queued:
            group, self._queued = self._queued[:GROUP_LIMIT], self._queued[GROUP_LIMIT:]

            def run(group: list[_Queued] = group) -> list[EventRecord | None]:
                with engine.begin() as conn:
                    return [
                        _append(conn, self.history_limit, job_id, step, status, **kwargs)
                        for job_id, step, status, kwargs, _ in group
                    ]

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
