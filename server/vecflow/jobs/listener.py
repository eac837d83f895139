"""WatchJob across replicas: feeds this process's watch hub with the events other replicas commit (PostgreSQL).

Each append NOTIFYs `job_id:sequence:origin` on commit (vecflow.storage.job_events). One LISTEN connection
per process hears them; for a job watched here whose event another process wrote, it reads the new events
once, per job and coalescing bursts (one read per event per replica, never per watcher), and publishes them
into the hub, which drops what its watchers have already. Notifications sent while the connection is down are
lost: after a reconnect every watched job is read after what its watchers have, and every `poll_seconds` the
watched jobs' latest sequences are polled and a job still behind since the previous poll is caught up (a lost
notification, a read that failed).
"""

from __future__ import annotations

import asyncio
import logging

from vecflow.jobs.eventlog import EventLog
from vecflow.jobs.hub import WatchHub
from vecflow.storage.job_events import NotifyConnection

log = logging.getLogger("vecflow.jobs")

PAGE = 500  # events per read
READS = 4  # reads at once (each holds a pooled connection)


class EventListener:
    """One LISTEN connection, reconnected when it drops, and a polling fallback; does nothing off PostgreSQL."""

    def __init__(self, events: EventLog, hub: WatchHub, poll_seconds: float = 2.0) -> None:
        self.events = events
        self.hub = hub
        self.poll_seconds = poll_seconds
        self.connection: NotifyConnection | None = None
        self.events_read = 0  # events read for the hub (for tests and benchmarks)
        self.reconnects = 0
        self._wanted: dict[str, int] = {}  # job → newest sequence heard of, not read yet
        self._draining: dict[str, asyncio.Task[None]] = {}  # job → its one reader
        self._behind: dict[str, int] = {}  # the previous poll's jobs that were behind, with their latest then
        self._reads = asyncio.Semaphore(READS)
        self._lost = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def enabled(self) -> bool:
        return self.events.db.dialect == "postgresql"

    async def start(self) -> None:
        if not self.enabled:
            return
        try:
            await self._connect()
        except Exception:
            log.exception("could not LISTEN for job events; retrying (watchers are fed by polling meanwhile)")
            self._lost.set()
        self._task = asyncio.create_task(self._supervise(), name="vecflow-event-listener")

    async def close(self) -> None:
        tasks = [t for t in (self._task, *self._draining.values()) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._task = None
        if self.connection is not None:
            await self.connection.close()
            self.connection = None

    async def _connect(self) -> None:
        self.connection = await NotifyConnection.open(self.events.db.url, self._notified, self._lost.set)
        await self._poll(grace=False)  # what was committed before LISTEN took effect

    async def _supervise(self) -> None:
        delay = 0.1
        while True:
            try:
                await asyncio.wait_for(self._lost.wait(), self.poll_seconds)
            except TimeoutError:
                await self._poll(grace=True)
                continue
            if self.connection is not None:
                await self.connection.close()
                self.connection = None
            self._lost.clear()
            try:
                await self._connect()
            except Exception as err:
                log.warning("reconnecting the job events LISTEN connection failed: %s", err)
                self._lost.set()
                await self._poll(grace=False)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.poll_seconds)
                continue
            delay = 0.1
            self.reconnects += 1
            log.info("the job events LISTEN connection was lost and is back", extra={"reconnects": self.reconnects})

    def _notified(self, job_id: str, sequence: int, origin: str) -> None:
        if origin != self.events.origin:  # this process publishes its own events after commit
            self._want(job_id, sequence)

    def _want(self, job_id: str, sequence: int) -> None:
        seen = self.hub.seen(job_id)
        if seen is None or sequence <= seen:
            return
        self._wanted[job_id] = max(self._wanted.get(job_id, 0), sequence)
        if job_id not in self._draining:
            self._draining[job_id] = asyncio.get_running_loop().create_task(
                self._drain(job_id), name=f"vecflow-event-reader-{job_id}"
            )

    async def _drain(self, job_id: str) -> None:
        """Read and publish a job's events up to the newest one heard of, until no newer one is."""
        try:
            while (upto := self._wanted.pop(job_id, None)) is not None:
                async with self._reads:
                    seen = self.hub.seen(job_id)
                    while seen is not None and seen < upto:
                        page = await self.events.read(job_id, seen, upto=upto, limit=PAGE)
                        self.events_read += len(page)
                        for event in page:
                            self.hub.publish(event)
                        if len(page) < PAGE:
                            break
                        seen = self.hub.seen(job_id)
        except Exception:
            self._wanted.pop(job_id, None)  # the poll asks again while it is watched
            log.exception("reading the events of job %s for its watchers failed; the poll retries", job_id)
        finally:
            self._draining.pop(job_id, None)

    async def _poll(self, grace: bool) -> None:
        """Catch up watched jobs whose latest sequence is ahead of their watchers: with `grace`, only those
        already behind at the previous poll (their notification is not merely still on its way)."""
        watched = self.hub.watched()
        if not watched:
            self._behind.clear()
            return
        try:
            latest = await self.events.latest_sequences(list(watched))
        except Exception:
            log.exception("polling the latest sequences of watched jobs failed")
            return
        behind = {job: seq for job, seq in latest.items() if seq > watched[job]}
        due, self._behind = (self._behind, behind) if grace else (behind, {})
        for job_id, sequence in due.items():  # _want skips what the watchers got meanwhile
            self._want(job_id, sequence)
