"""Append-only job history: every status change is an event, committed (grouped on SQLite) before it is published.

On PostgreSQL each append also notifies the other replicas (storage.job_events), tagged with this event log's
`origin` so that this process's listener (vecflow.jobs.listener) skips the events it publishes itself.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

from vecflow.jobs.hub import WatchHub
from vecflow.jobs.records import EventRecord
from vecflow.storage.db import AsyncSession, Connection, Database
from vecflow.storage.job_events import append_event, latest_sequences, oldest_event_sequence, read_events

log = logging.getLogger("vecflow.jobs")
T = TypeVar("T")

GROUP_LIMIT = 256  # most events committed in one SQLite transaction

_Queued = tuple[str, str, str, dict[str, Any], "asyncio.Future[EventRecord | None]"]


def _log_failure(waiter: asyncio.Future[EventRecord | None]) -> None:
    if not waiter.cancelled() and waiter.exception() is not None:
        log.error("appending a job event failed", exc_info=waiter.exception())


@dataclass
class Batch:
    """Writes inside one transaction; its events are published once it commits."""

    session: AsyncSession
    history_limit: int
    origin: str = ""
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
            lambda sync: append_event(
                sync.connection(), self.history_limit, job_id, step, status, origin=self.origin, **kwargs
            )
        )
        if record is not None:
            self.events.append(record)
        return record


@dataclass
class SyncWrite:
    """What `EventLog.transact` hands its work: the connection, and `append` for job events."""

    conn: Connection
    history_limit: int
    origin: str = ""
    events: list[EventRecord] = field(default_factory=list)

    def append(self, job_id: str, step: str, status: str, **kwargs: Any) -> EventRecord | None:
        """As Batch.append, on this transaction."""
        record = append_event(self.conn, self.history_limit, job_id, step, status, origin=self.origin, **kwargs)
        if record is not None:
            self.events.append(record)
        return record


class EventLog:
    """Owns writes to jobs and job_events, and hands committed events to the watch hub."""

    def __init__(self, db: Database, hub: WatchHub, history_limit: int = 100_000) -> None:
        self.db = db
        self.hub = hub
        self.history_limit = history_limit
        self.origin = uuid.uuid4().hex[:12]  # tags this process's notifications (PostgreSQL)
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
                    write_pg = SyncWrite(sync.connection(), self.history_limit, self.origin)
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
            batch = Batch(session, self.history_limit, self.origin)
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
                            outcomes.append(append_event(conn, self.history_limit, job_id, step, status, **kwargs))
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
        async with self.db.read_session() as s:
            return await read_events(s, job_id, after_sequence, upto, limit)

    async def oldest_sequence(self, job_id: str) -> int | None:
        async with self.db.read_session() as s:
            return await oldest_event_sequence(s, job_id)

    async def latest_sequences(self, job_ids: list[str]) -> dict[str, int]:
        """Each job's latest sequence, in one read."""
        async with self.db.read_session() as s:
            return await latest_sequences(s, job_ids)
