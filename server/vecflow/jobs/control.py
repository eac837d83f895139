"""Cancel, restart and wait for jobs: the part of the job engine that acts on jobs it need not be running."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Collection
from typing import Any

from vecflow.errors import FailedPrecondition
from vecflow.jobs import records as r
from vecflow.jobs.context import JobContext
from vecflow.jobs.eventlog import EventLog
from vecflow.storage import models as m
from vecflow.storage.db import Database
from vecflow.storage.models import utcnow
from vecflow.storage.repositories import owned_job
from vecflow.tracing import Tracing

RECENTLY_ENDED = 4096  # job ids remembered as ended, for wait_finished calls that come just too late
CancelHook = Callable[[m.Job], Awaitable[None]]


class JobControl:
    """Cancel, restart and wait_finished of vecflow.jobs.engine.JobEngine, which sets these attributes."""

    events: EventLog
    db: Database
    replica: str
    tracing: Tracing
    _unstarted_cancel: dict[str, CancelHook]
    _running: dict[str, tuple[JobContext, asyncio.Task[None]]]
    _wake: asyncio.Event
    _finish_waiters: dict[str, list[asyncio.Future[None]]]
    _recently_ended: OrderedDict[str, None]

    async def _owned(self, project_id: str, job_id: str) -> m.Job:
        async with self.db.read_session() as s:
            return await owned_job(s, project_id, job_id)

    async def cancel(self, project_id: str, job_id: str) -> m.Job:
        """Cancel a job: at once when pending, at the next boundary when running."""
        for _ in range(5):
            job = await self._owned(project_id, job_id)
            if job.status == r.CANCELLED or (job.status == r.RUNNING and job.cancel_requested):
                return job
            if job.status in (r.SUCCEEDED, r.FAILED):
                raise FailedPrecondition(
                    f"job {job_id} already {job.status}; only pending or running jobs can be cancelled",
                    reason="JOB_ALREADY_FINISHED",
                    metadata={"job_id": job_id, "status": job.status},
                )
            if job.status == r.PENDING:
                done = await self.events.append(
                    job_id,
                    "job",
                    r.STEP_CANCELLED,
                    job_status=r.CANCELLED,
                    expect=[r.PENDING],
                    details={"reason": "cancelled before it started"},
                    changes={"completed_at": utcnow()},
                )
            else:
                done = await self.events.append(
                    job_id,
                    "cancel_requested",
                    r.INFO,
                    expect=[r.RUNNING],
                    where={"cancel_requested": False},
                    details={"reason": "the job stops at its next step or batch boundary"},
                    changes={"cancel_requested": True},
                )
                entry = self._running.get(job_id)
                if entry is not None:
                    entry[0].cancel_requested.set()
            if done is not None:
                hook = self._unstarted_cancel.get(job.operation) if job.status == r.PENDING else None
                if hook is not None:
                    await hook(job)
                if job.status == r.PENDING:
                    self._ended(job_id)
                return await self._owned(project_id, job_id)
        raise FailedPrecondition(f"job {job_id} kept changing state; try again", reason="JOB_BUSY")

    async def restart(self, project_id: str, job_id: str) -> m.Job:
        """Put a failed or cancelled job back to pending; finished steps stay finished. When tracing, its next run
        continues the trace of the restarting call, linked to the trace it ran in before."""
        job = await self._owned(project_id, job_id)
        if job.status not in (r.FAILED, r.CANCELLED):
            raise FailedPrecondition(
                f"job {job_id} is {job.status}; only failed or cancelled jobs can be restarted",
                reason="JOB_NOT_RESTARTABLE",
                metadata={"job_id": job_id, "status": job.status},
            )
        changes: dict[str, Any] = {
            "error_code": "",
            "error_message": "",
            "completed_at": None,
            "cancel_requested": False,
            "result": None,
        }
        trace_context = self.tracing.restarted(job.trace_context) if self.tracing.enabled else None
        if trace_context is not None:
            changes["trace_context"] = trace_context
        done = await self.events.append(
            job_id,
            "restarted",
            r.INFO,
            job_status=r.PENDING,
            expect=[r.FAILED, r.CANCELLED],
            details={"previous_status": job.status, "previous_error": job.error_code, "replica": self.replica},
            changes=changes,
        )
        if done is None:
            raise FailedPrecondition(f"job {job_id} changed state meanwhile; read it and retry", reason="JOB_BUSY")
        self._wake.set()
        # The job as restarted (a worker may claim it at once: a fresh read could already say running).
        job.status, job.error_code, job.error_message, job.result = r.PENDING, "", "", None
        job.completed_at, job.cancel_requested = None, False
        job.latest_sequence, job.updated_at = done.sequence, done.timestamp
        return job

    async def wait_finished(self, job_ids: Collection[str], at_most: float) -> None:
        """Return when one of `job_ids` has ended on this server (just now, or recently), or after
        `at_most` seconds (it may have ended on another server sharing the database): then check."""
        if any(job_id in self._recently_ended for job_id in job_ids):
            return
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()
        for job_id in job_ids:
            self._finish_waiters.setdefault(job_id, []).append(waiter)
        try:
            await asyncio.wait_for(asyncio.shield(waiter), at_most)
        except TimeoutError:
            pass
        finally:
            for job_id in job_ids:
                waiters = self._finish_waiters.get(job_id)
                if waiters is not None:
                    if waiter in waiters:
                        waiters.remove(waiter)
                    if not waiters:
                        del self._finish_waiters[job_id]

    def _ended(self, job_id: str) -> None:
        self._recently_ended[job_id] = None
        while len(self._recently_ended) > RECENTLY_ENDED:
            self._recently_ended.popitem(last=False)
        for waiter in self._finish_waiters.pop(job_id, []):
            if not waiter.done():
                waiter.set_result(None)
