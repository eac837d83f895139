"""In-memory fan-out of committed history events to the watchers of each job.

Events are published once per commit and shared by every watcher of the job, so N watchers cost
one database write and no reads per event. Each watcher reads through a bounded queue; one that
falls behind is marked overflowed (its queue is dropped) and cut off by the watch loop, so it
never grows memory nor slows the publisher or other watchers.

Events reach the hub twice on several replicas (published after a local commit, and read after another
replica's notification: vecflow.jobs.listener), and out of order; it keeps, per watched job, the highest
sequence its watchers are known to have (`seen`) and drops anything at or below it. That is safe: a
watcher that subscribed before an event was offered got it (and fills gaps below it from the database),
one that subscribed after replays it.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from dataclasses import dataclass, field

from vecflow.jobs.records import EventRecord
from vecflow.jobs.ticker import Ticker

OVERFLOW = object()
HEARTBEAT = object()


@dataclass(eq=False)
class Subscription:
    job_id: str
    capacity: int
    queue: asyncio.Queue[object] = field(init=False)
    overflowed: bool = False
    delivered: int = 0
    high_water: int = 0
    last_activity: float = 0.0

    def __post_init__(self) -> None:
        # One extra slot so the overflow marker always fits.
        self.queue = asyncio.Queue(maxsize=self.capacity + 1)

    def offer(self, event: EventRecord) -> None:
        if self.overflowed:
            return
        if self.queue.qsize() >= self.capacity:
            self.overflowed = True
            while not self.queue.empty():
                self.queue.get_nowait()
            self.queue.put_nowait(OVERFLOW)
            return
        self.queue.put_nowait(event)
        self.high_water = max(self.high_water, self.queue.qsize())
        self.last_activity = time.monotonic()

    def beat(self, now: float, interval: float) -> None:
        """Queue a heartbeat marker when nothing was offered for `interval` seconds."""
        if not self.overflowed and self.queue.empty() and now - self.last_activity >= interval:
            self.queue.put_nowait(HEARTBEAT)
            self.last_activity = now


class WatchHub:
    """Routes each published event to the subscriptions of its job, and heartbeats idle ones.

    One ticker serves every subscription (a per-stream timer per event would cost far more at
    thousands of streams).
    """

    def __init__(self, queue_capacity: int = 1024, heartbeat_seconds: float = 5.0) -> None:
        self.queue_capacity = queue_capacity
        self.heartbeat_seconds = heartbeat_seconds
        self._subs: dict[str, set[Subscription]] = defaultdict(set)
        self._seen: dict[str, int] = {}  # per watched job: the highest sequence offered or known replayed
        self._ticker = Ticker("vecflow-watch-heartbeats", heartbeat_seconds / 4, self._beat, lambda: bool(self._subs))

    def subscribe(self, job_id: str, known: int = 0) -> Subscription:
        """Subscribe to a job's events; `known`: its latest sequence read before subscribing (the watcher
        replays up to there, so the first watcher of a job needs nothing at or below it from the hub)."""
        sub = Subscription(job_id, self.queue_capacity)
        sub.last_activity = time.monotonic()
        if job_id not in self._subs:
            self._seen[job_id] = known
        self._subs[job_id].add(sub)
        self._ticker.ensure()
        return sub

    def _beat(self, now: float) -> None:
        for subs in tuple(self._subs.values()):
            for sub in tuple(subs):
                sub.beat(now, self.heartbeat_seconds)

    async def close(self) -> None:
        await self._ticker.close()

    def unsubscribe(self, sub: Subscription) -> None:
        subs = self._subs.get(sub.job_id)
        if subs is not None:
            subs.discard(sub)
            if not subs:
                del self._subs[sub.job_id]
                del self._seen[sub.job_id]

    def publish(self, event: EventRecord) -> None:
        """Offer a committed event to its job's watchers, unless they have it already."""
        subs = self._subs.get(event.job_id)
        if not subs or event.sequence <= self._seen[event.job_id]:
            return
        self._seen[event.job_id] = event.sequence
        for sub in tuple(subs):
            sub.offer(event)

    def seen(self, job_id: str) -> int | None:
        """The highest sequence of a watched job its watchers have or replay (None: nobody watches it here)."""
        return self._seen.get(job_id)

    def watched(self) -> dict[str, int]:
        """Every job watched here, with its `seen` sequence."""
        return dict(self._seen)

    def watcher_count(self, job_id: str | None = None) -> int:
        if job_id is not None:
            return len(self._subs.get(job_id, ()))
        return sum(len(s) for s in self._subs.values())

    def queued(self) -> int:
        """Events waiting in all watcher queues (a bound on the hub's memory)."""
        return sum(sub.queue.qsize() for subs in self._subs.values() for sub in subs)
