"""Runs jobs: submit, claim with a renewed lease, run the operation's handler, finish, cancel, restart.

Crash safety: a job is claimed with a lease that its worker renews. If the process dies, the
lease expires and the reaper (on any live server sharing the database, including this one after a
restart) puts the job back to pending; it resumes with its persisted state, skipping finished
steps. Handlers write with deterministic keys (upserts), so a redone batch never duplicates.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from vecflow.config import default_replica_id
from vecflow.failures import CodedFailure
from vecflow.ids import new_id
from vecflow.jobs import records as r
from vecflow.jobs.context import JobContext
from vecflow.jobs.control import CancelHook, JobControl
from vecflow.jobs.errors import JobCancelled
from vecflow.jobs.eventlog import EventLog, SyncWrite
from vecflow.statuses import JobStatus
from vecflow.storage import jobs as q
from vecflow.storage import models as m
from vecflow.storage.models import utcnow
from vecflow.tracing import OFF, Tracing, set_correlation_id
from vecflow.tracing import correlation_id as current_correlation_id

log = logging.getLogger("vecflow.jobs")

Handler = Callable[[JobContext], Awaitable[dict[str, Any] | None]]


class LeaseLost(Exception):
    """This worker no longer owns the job (its lease expired and another took it)."""


@dataclass(frozen=True)
class EngineSettings:
    workers: int = 4
    lease_seconds: float = 30.0
    poll_seconds: float = 1.0
    progress_interval: float = 0.1
    shutdown_grace_seconds: float = 10.0
    run_jobs: bool = True  # False: claim nothing (an `api` replica); the reaper still runs


class JobEngine(JobControl):
    """Runs registered handlers for pending jobs in worker slots, under leases (cancel and restart: JobControl).

    `replica_id` (VECFLOW_REPLICA_ID; default host:pid) names this replica in the history events of the jobs
    it claims, requeues or restarts (details["replica"]); its leases are owned by `<replica id>:<random>`."""

    def __init__(
        self,
        log_: EventLog,
        settings: EngineSettings | None = None,
        replica_id: str = "",
        tracing: Tracing = OFF,
    ) -> None:
        self.events = log_
        self.tracing = tracing
        self.db = log_.db
        self.settings = settings or EngineSettings()
        self.progress_interval = self.settings.progress_interval
        self.replica = replica_id or default_replica_id()
        self.owner = f"{self.replica}:{uuid.uuid4().hex[:8]}"
        self._handlers: dict[str, Handler] = {}
        self._unstarted_cancel: dict[str, CancelHook] = {}
        self._running: dict[str, tuple[JobContext, asyncio.Task[None]]] = {}
        self._wake = asyncio.Event()
        self._stopping = False
        self._tasks: list[asyncio.Task[None]] = []
        self._slots = asyncio.Semaphore(self.settings.workers)
        self._finish_waiters: dict[str, list[asyncio.Future[None]]] = {}
        self._recently_ended: OrderedDict[str, None] = OrderedDict()

    # Registration and submission -------------------------------------------------------

    def register(self, operation: str, handler: Handler, on_cancel_unstarted: CancelHook | None = None) -> None:
        """Run `handler` for jobs of `operation`. One handler per operation.

        `on_cancel_unstarted` tidies up after a job cancelled before it ever ran (the handler, which
        cleans up after a cancellation while running, never saw it)."""
        if operation in self._handlers:
            raise ValueError(f"a handler for {operation!r} is already registered")
        self._handlers[operation] = handler
        if on_cancel_unstarted is not None:
            self._unstarted_cancel[operation] = on_cancel_unstarted
        self._wake.set()

    @property
    def operations(self) -> frozenset[str]:
        return frozenset(self._handlers)

    async def submit(
        self,
        project_id: str,
        operation: str,
        source_id: str = "",
        params: dict[str, Any] | None = None,
        correlation_id: str = "",
        on_behalf_of: str = "",
        job_id: str | None = None,
        also: Callable[[SyncWrite, m.Job], None] | None = None,
    ) -> m.Job:
        """Persist a pending job with its first history event ("queued"), then wake a worker.

        `also` runs in the same transaction, on its synchronous connection (to create the resource the
        job works on, say), so the job and its resource exist together or not at all. The whole
        transaction is one hop (EventLog.transact).

        The job's correlation id defaults to that of the call (or job) submitting it; its trace context is the
        current span's, so that its run continues the trace (vecflow.tracing).
        """
        now = utcnow()
        job_id = job_id or new_id("job")
        job = m.Job(
            id=job_id,
            project_id=project_id,
            operation=operation,
            status=r.PENDING,
            source_id=source_id,
            correlation_id=(correlation_id or current_correlation_id())[:128],
            trace_context=self.tracing.submitted(job_id, operation) if self.tracing.enabled else None,
            on_behalf_of=on_behalf_of,
            params=params or {},
            state={},
            created_at=now,
            updated_at=now,
        )

        def write(w: SyncWrite) -> None:
            q.insert_job(w.conn, job)
            if also is not None:
                also(w, job)
            w.append(job.id, "queued", r.INFO, details={"operation": operation, "source_id": source_id})

        await self.events.transact(write)
        job.latest_sequence = 1
        self._wake.set()
        return job

    # Lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        await self.reap_expired()
        self._tasks = [asyncio.create_task(self._reaper(), name="vecflow-job-reaper")]
        if self.settings.run_jobs:
            self._tasks.insert(0, asyncio.create_task(self._dispatch(), name="vecflow-job-dispatch"))

    async def stop(self, grace: float | None = None) -> None:
        """Stop claiming; let running jobs finish within `grace`, then requeue what is left."""
        self._stopping = True
        self._wake.set()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        grace = self.settings.shutdown_grace_seconds if grace is None else grace
        running = [task for _, task in self._running.values()]
        if running:
            _, still = await asyncio.wait(running, timeout=grace)
            for task in still:
                task.cancel()
            await asyncio.gather(*still, return_exceptions=True)

    # Claiming and running -----------------------------------------------------------------

    async def _dispatch(self) -> None:
        while not self._stopping:
            await self._slots.acquire()
            try:
                job = await self._claim() if self._handlers else None
            except Exception:
                log.exception("claiming a job failed")
                job = None
            if job is None:
                self._slots.release()
                self._wake.clear()
                try:
                    await asyncio.wait_for(self._wake.wait(), timeout=self.settings.poll_seconds)
                except TimeoutError:
                    pass
                continue
            ctx = JobContext(self, job)
            task = asyncio.create_task(self._run(ctx), name=f"vecflow-job-{ctx.job_id}")
            self._running[ctx.job_id] = (ctx, task)

            def done(_t: asyncio.Task[None], job_id: str = ctx.job_id) -> None:
                self._done(job_id)

            task.add_done_callback(done)

    def _done(self, job_id: str) -> None:
        entry = self._running.pop(job_id, None)
        if entry is None or entry[0].holds_slot:
            self._slots.release()

    async def release_slot(self, ctx: JobContext) -> None:
        """Let another job run in this job's worker slot while it waits (see JobContext.waiting)."""
        if ctx.holds_slot:
            ctx.holds_slot = False
            self._slots.release()
            self._wake.set()

    async def reclaim_slot(self, ctx: JobContext) -> None:
        if not ctx.holds_slot:
            await self._slots.acquire()
            ctx.holds_slot = True

    async def _claim(self) -> dict[str, Any] | None:
        """Claim the oldest pending job of an operation this engine runs, with a lease, in one transaction."""
        operations = tuple(self._handlers)
        lease = timedelta(seconds=self.settings.lease_seconds)

        def claim(write: SyncWrite) -> dict[str, Any] | None:
            now = utcnow()
            job = q.next_pending_job(write.conn, operations)
            if job is None:
                return None
            job_id = job["id"]
            attempt = job["attempt"] + 1
            event = write.append(
                job_id,
                "started",
                r.INFO,
                job_status=r.RUNNING,
                expect=[r.PENDING],
                details={"attempt": attempt, "worker": self.owner, "replica": self.replica},
                changes={
                    "attempt": attempt,
                    "lease_owner": self.owner,
                    "lease_expires_at": now + lease,
                    "started_at": job["started_at"] or now,
                },
            )
            if event is None:
                return None
            return {**{k: job[k] for k in q.CLAIMED_KEYS}, "attempt": attempt}

        return await self.events.transact(claim)

    async def _run(self, ctx: JobContext) -> None:
        set_correlation_id(ctx.correlation_id)  # for the jobs it submits (this task's context is its own)
        if not self.tracing.enabled:
            await self._attempt(ctx)
            return
        attributes = {
            "vecflow.job.id": ctx.job_id,
            "vecflow.job.operation": ctx.operation,
            "vecflow.job.attempt": ctx.attempt,
            "vecflow.job.correlation_id": ctx.correlation_id,
            "vecflow.job.source_id": ctx.source_id,
            "vecflow.project_id": ctx.project_id,
        }
        span = self.tracing.job_span(ctx.operation, ctx.trace_context, attributes)
        try:
            outcome = await self._attempt(ctx)
            if outcome is None:
                span.set({"vecflow.job.status": "requeued"})
            else:
                span.set({"vecflow.job.status": outcome[0]})
                if outcome[0] == r.FAILED:
                    span.fail(outcome[1]["code"], outcome[1]["message"])
        finally:
            span.end()

    async def _attempt(self, ctx: JobContext) -> tuple[JobStatus, dict[str, Any]] | None:
        """Run the handler and finish the job: its outcome, or None when this worker gave it up (lease lost,
        or shutting down: requeued)."""
        handler = self._handlers[ctx.operation]
        renewer = asyncio.create_task(self._renew(ctx))
        outcome: tuple[JobStatus, dict[str, Any]]
        try:
            result = await handler(ctx)
            outcome = (r.SUCCEEDED, {"result": result or {}})
        except JobCancelled:
            outcome = (r.CANCELLED, {})
        except CodedFailure as err:  # JobFailed, or a pipeline failure with its own code
            outcome = (r.FAILED, {"code": err.code, "message": err.message, "details": err.details})
        except (LeaseLost, asyncio.CancelledError) as err:
            renewer.cancel()
            if self._stopping and not isinstance(err, LeaseLost):
                await self._requeue(ctx.job_id, "the server shut down before the job finished", owner=self.owner)
            else:
                log.warning("job %s: lease lost; another worker owns it now", ctx.job_id)
            return None
        except Exception as err:
            log.exception("job %s failed unexpectedly in step %r", ctx.job_id, ctx.current_step)
            where = f" in step {ctx.current_step!r}" if ctx.current_step else ""
            outcome = (
                r.FAILED,
                {"code": "INTERNAL_ERROR", "message": f"unexpected error{where}: {type(err).__name__}: {err}"},
            )
        finally:
            renewer.cancel()
            ctx.close()
        await self._finish(ctx, *outcome)
        return outcome

    async def _finish(self, ctx: JobContext, status: JobStatus, info: dict[str, Any]) -> None:
        duration = (time.monotonic() - ctx.started) * 1000
        step_status = {r.SUCCEEDED: r.STEP_SUCCEEDED, r.FAILED: r.STEP_FAILED, r.CANCELLED: r.STEP_CANCELLED}[status]
        changes: dict[str, Any] = {
            "completed_at": utcnow(),
            "lease_owner": "",
            "lease_expires_at": None,
            "state": ctx.state,
        }
        details: dict[str, Any] = {"attempt": ctx.attempt}
        if status == r.SUCCEEDED:
            changes["result"] = info["result"]
        elif status == r.FAILED:
            changes.update(error_code=info["code"], error_message=info["message"])
            details.update(error_code=info["code"], error_message=info["message"], **(info.get("details") or {}))
        else:
            details["reason"] = "cancelled by request"
        await self.events.append(
            ctx.job_id,
            "job",
            step_status,
            job_status=status,
            expect=[r.RUNNING],
            where={"lease_owner": self.owner},
            details=details,
            duration_ms=int(duration),
            changes=changes,
        )
        self._ended(ctx.job_id)

    async def emit(
        self,
        ctx: JobContext,
        step: str,
        status: str,
        details: dict[str, Any] | None = None,
        duration: float = 0.0,
        step_done: str | None = None,
        wait: bool = True,
    ) -> None:
        """Append an event for a running job this worker owns (LeaseLost otherwise).

        `wait=False` queues it without waiting for the commit (a step's start, progress): a lost lease
        then shows at the next event that waits."""
        changes: dict[str, Any] = {}
        if step_done is not None:
            done = ctx.state.setdefault("done_steps", [])
            if step_done not in done:
                done.append(step_done)
            changes["state"] = ctx.state
        event = await self.events.append(
            ctx.job_id,
            step,
            status,
            expect=[r.RUNNING],
            where={"lease_owner": self.owner},
            details=details,
            duration_ms=int(duration * 1000),
            changes=changes,
            wait=wait,
        )
        if event is None and wait:
            raise LeaseLost(ctx.job_id)

    async def save_state(self, ctx: JobContext) -> None:
        async with self.db.session() as s:
            saved = await q.save_job_state(s, ctx.job_id, self.owner, ctx.state)
        if not saved:
            raise LeaseLost(ctx.job_id)

    async def _renew(self, ctx: JobContext) -> None:
        """Extend the lease every third of its length; pick up cancellations made on other servers."""
        interval = self.settings.lease_seconds / 3
        while True:
            await asyncio.sleep(interval)
            async with self.db.session() as s:
                cancel_requested = await q.renew_lease(s, ctx.job_id, self.owner, self.settings.lease_seconds)
            if cancel_requested is None:
                entry = self._running.get(ctx.job_id)
                if entry is not None:
                    entry[1].cancel()
                return
            if cancel_requested:
                ctx.cancel_requested.set()

    # Recovery ------------------------------------------------------------------------------

    async def _reaper(self) -> None:
        while not self._stopping:
            await asyncio.sleep(max(self.settings.poll_seconds, self.settings.lease_seconds / 3))
            try:
                await self.reap_expired()
            except Exception:
                log.exception("reaping expired leases failed")

    async def reap_expired(self) -> int:
        """Put running jobs whose lease expired back to pending (or cancelled, if that was asked)."""
        now = utcnow()
        async with self.db.read_session() as s:
            rows = await q.expired_leases(s, now)
        for job_id, cancel_requested, owner in rows:
            if cancel_requested:
                await self.events.append(
                    job_id,
                    "job",
                    r.STEP_CANCELLED,
                    job_status=r.CANCELLED,
                    expect=[r.RUNNING],
                    expired_before=now,
                    details={
                        "reason": "cancelled by request; its worker stopped before it could finish",
                        "replica": self.replica,
                    },
                    changes={"completed_at": now, "lease_owner": "", "lease_expires_at": None},
                )
            else:
                await self._requeue(job_id, f"the lease of worker {owner} expired (it stopped or crashed)", before=now)
        if rows:
            self._wake.set()
        return len(rows)

    async def _requeue(
        self, job_id: str, reason: str, owner: str | None = None, before: datetime | None = None
    ) -> None:
        await self.events.append(
            job_id,
            "requeued",
            r.INFO,
            job_status=r.PENDING,
            expect=[r.RUNNING],
            where={"lease_owner": owner} if owner is not None else None,
            expired_before=before,
            details={"reason": reason, "replica": self.replica},
            changes={"lease_owner": "", "lease_expires_at": None},
        )
