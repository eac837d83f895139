"""WatchJob semantics: replay after a cursor, then live events in order, exactly once, with heartbeats.

Order of operations makes it gap-free: subscribe to the hub first, then replay from the database.
An event committed after the replay read is in the subscription queue; one committed before is in
the replay; one in both is skipped by sequence. A gap (an event published out of order) is filled
from the database, so a watcher never misses or repeats a sequence.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime

from vecflow.errors import Aborted, FailedPrecondition, InvalidArgument
from vecflow.jobs.eventlog import EventLog
from vecflow.jobs.hub import HEARTBEAT, OVERFLOW, WatchHub
from vecflow.jobs.records import TERMINAL, EventRecord
from vecflow.storage.models import utcnow
from vecflow.storage.repositories import owned_job

REPLAY_PAGE = 500


@dataclass(frozen=True)
class Heartbeat:
    latest_sequence: int
    job_status: str
    timestamp: datetime


def watcher_too_slow(job_id: str, last: int, what: str) -> Aborted:
    """ABORTED / WATCHER_TOO_SLOW for a watcher cut off because it `what`, with where to resume."""
    return Aborted(
        f"this watcher {what} and was cut off; reconnect with after_sequence set to the last sequence you "
        f"received (at least {last})",
        reason="WATCHER_TOO_SLOW",
        metadata={"resume_after_sequence": str(last), "job_id": job_id},
    )


class JobWatcher:
    def __init__(self, events: EventLog, hub: WatchHub) -> None:
        self.events = events
        self.hub = hub

    async def watch(self, project_id: str, job_id: str, after_sequence: int) -> AsyncIterator[EventRecord | Heartbeat]:
        """Yield every event after `after_sequence`, then live ones, until the job's terminal event."""
        if not job_id:
            raise InvalidArgument.field("job_id", "is required")
        if after_sequence < 0:
            raise InvalidArgument.field("after_sequence", f"must be 0 or more, got {after_sequence}")
        async with self.events.db.read_session() as s:
            job = await owned_job(s, project_id, job_id)
        if after_sequence > job.latest_sequence:
            raise InvalidArgument.field(
                "after_sequence",
                f"is beyond the job's latest sequence {job.latest_sequence}; pass the last sequence you received",
            )
        sub = self.hub.subscribe(job_id, known=job.latest_sequence)
        try:
            oldest = 1
            if job.latest_sequence > self.events.history_limit:  # only then can early events be gone
                oldest = await self.events.oldest_sequence(job_id) or 1
            if after_sequence + 1 < oldest:
                raise FailedPrecondition(
                    f"events up to sequence {oldest - 1} of job {job_id} are no longer kept; "
                    f"resume with after_sequence >= {oldest - 1} or read the job with GetJob",
                    reason="CURSOR_EXPIRED",
                    metadata={"oldest_sequence": str(oldest), "job_id": job_id},
                )
            last, status, ended = after_sequence, job.status, False
            while True:  # replay in pages, up to the newest committed event
                page = await self.events.read(job_id, last, limit=REPLAY_PAGE)
                for event in page:
                    yield event
                    last, status, ended = event.sequence, event.job_status, event.terminal
                if len(page) < REPLAY_PAGE:
                    break
            if ended or (last == after_sequence and last == job.latest_sequence and job.status in TERMINAL):
                return
            while True:  # live
                item = await sub.queue.get()
                if item is HEARTBEAT:
                    yield Heartbeat(last, status, utcnow())
                    continue
                if item is OVERFLOW:
                    raise watcher_too_slow(job_id, last, f"fell more than {sub.capacity} events behind job {job_id}")
                assert isinstance(item, EventRecord)
                if item.sequence <= last:
                    continue
                if item.sequence > last + 1:
                    for missing in await self.events.read(job_id, last, upto=item.sequence - 1):
                        yield missing
                        last = missing.sequence
                yield item
                sub.delivered += 1
                last, status = item.sequence, item.job_status
                if item.terminal:
                    return
        finally:
            self.hub.unsubscribe(sub)
