"""Runs jobs: submit, claim with a renewed lease, run the operation's handler, finish, cancel, restart.

Crash safety: a job is claimed with a lease that its worker renews. If the process dies, the
lease expires and the reaper (on any live server sharing the database, including this one after a
restart) puts the job back to pending; it resumes with its persisted state, skipping finished
steps. Handlers write with deterministic keys (upserts), so a redone batch never duplicates.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, bindparam, select, update

from vecflow.errors import FailedPrecondition
from vecflow.failures import CodedFailure
from vecflow.ids import new_id
from vecflow.jobs import records as r
from vecflow.jobs.context import JobContext
from vecflow.jobs.errors import JobCancelled
from vecflow.jobs.eventlog import JOBS, EventLog, SyncWrite
from vecflow.statuses import JobStatus
from vecflow.storage import models as m
from vecflow.storage.models import utcnow
from vecflow.storage.repositories import insert_row, owned_job

log = logging.getLogger("vecflow.jobs")

Handler = Callable[[JobContext], Awaitable[dict[str, Any] | None]]
RECENTLY_ENDED = 4096  # job ids remembered as ended, for wait_finished calls that come just too late
CLAIMED_KEYS = ("id", "project_id", "operation", "source_id", "params", "state", "cancel_requested")
CLAIMED = [JOBS.c[k] for k in (*CLAIMED_KEYS, "attempt", "started_at")]
_CLAIMED_JOB = select(*CLAIMED).where(JOBS.c.id == bindparam("job_id"))
CancelHook = Callable[[m.Job], Awaitable[None]]


class LeaseLost(Exception):
    """This worker no longer owns the job (its lease expired and another took it)."""


@dataclass(frozen=True)
class EngineSettings:
    workers: int = 4
    lease_seconds: float = 30.0
    poll_seconds: float = 1.0
    progress_interval: float = 0.1
    shutdown_grace_seconds: float = 10.0


class JobEngine:
    def __init__(self, log_: EventLog, settings: EngineSettings | None = None) -> None:
        self.events = log_
        self.db = log_.db
        self.settings = settings or EngineSettings()
        self.progress_interval = self.settings.progress_interval
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._handlers: dict[str, Handler] = {}
        self._unstarted_cancel: dict[str, CancelHook] = {}
        self._running: dict[str, tuple[JobContext, asyncio.Task[None]]] = {}
        self._wake = asyncio.Event()
        self._stopping = False
        self._tasks: list[asyncio.Task[None]] = []
        self._slots = asyncio.Semaphore(self.settings.workers)
        self._finish_waiters: dict[str, list[asyncio.Future[None]]] = {}
        self._recently_ended: OrderedDict[str, None] = OrderedDict()
        self._pending_query: tuple[tuple[str, ...], Select[Any]] | None = None

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
        """
        now = utcnow()
        job = m.Job(
            id=job_id or new_id("job"),
            project_id=project_id,
            operation=operation,
            status=r.PENDING,
            source_id=source_id,
            correlation_id=correlation_id[:128],
            on_behalf_of=on_behalf_of,
            params=params or {},
            state={},
            created_at=now,
            updated_at=now,
        )

        def write(w: SyncWrite) -> None:
            insert_row(w.conn, job)
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
        self._tasks = [
            asyncio.create_task(self._dispatch(), name="vecflow-job-dispatch"),
            asyncio.create_task(self._reaper(), name="vecflow-job-reaper"),
        ]

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

    def _next_pending(self) -> Select[Any]:
        """The oldest pending job of an operation this engine runs (built once per set of operations)."""
        operations = tuple(self._handlers)
        if self._pending_query is None or self._pending_query[0] != operations:
            stmt = (
                select(JOBS.c.id)
                .where(JOBS.c.status == r.PENDING, JOBS.c.operation.in_(operations))
                .order_by(JOBS.c.created_at)
                .limit(1)
            )
            if self.db.dialect == "postgresql":
                stmt = stmt.with_for_update(skip_locked=True)
            self._pending_query = (operations, stmt)
        return self._pending_query[1]

    async def _claim(self) -> dict[str, Any] | None:
        next_pending = self._next_pending()
        lease = timedelta(seconds=self.settings.lease_seconds)

        def claim(write: SyncWrite) -> dict[str, Any] | None:
            now = utcnow()
            job_id = write.conn.execute(next_pending).scalar()
            if job_id is None:
                return None
            job = write.conn.execute(_CLAIMED_JOB, {"job_id": job_id}).mappings().one()
            attempt = job["attempt"] + 1
            event = write.append(
                job_id,
                "started",
                r.INFO,
                job_status=r.RUNNING,
                expect=[r.PENDING],
                details={"attempt": attempt, "worker": self.owner},
                changes={
                    "attempt": attempt,
                    "lease_owner": self.owner,
                    "lease_expires_at": now + lease,
                    "started_at": job["started_at"] or now,
                },
            )
            if event is None:
                return None
            return {**{k: job[k] for k in CLAIMED_KEYS}, "attempt": attempt}

        return await self.events.transact(claim)

    async def _run(self, ctx: JobContext) -> None:
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
            return
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
            result = await s.execute(
                update(JOBS)
                .where(JOBS.c.id == ctx.job_id, JOBS.c.lease_owner == self.owner, JOBS.c.status == r.RUNNING)
                .values(state=ctx.state, updated_at=utcnow())
            )
        if result.rowcount == 0:  # type: ignore[attr-defined]
            raise LeaseLost(ctx.job_id)

    async def _renew(self, ctx: JobContext) -> None:
        """Extend the lease every third of its length; pick up cancellations made on other servers."""
        interval = self.settings.lease_seconds / 3
        while True:
            await asyncio.sleep(interval)
            async with self.db.session() as s:
                row = (
                    await s.execute(
                        update(JOBS)
                        .where(JOBS.c.id == ctx.job_id, JOBS.c.lease_owner == self.owner, JOBS.c.status == r.RUNNING)
                        .values(lease_expires_at=utcnow() + timedelta(seconds=self.settings.lease_seconds))
                        .returning(JOBS.c.cancel_requested)
                    )
                ).first()
            if row is None:
                entry = self._running.get(ctx.job_id)
                if entry is not None:
                    entry[1].cancel()
                return
            if row[0]:
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
            rows = (
                await s.execute(
                    select(m.Job.id, m.Job.cancel_requested, m.Job.lease_owner).where(
                        m.Job.status == r.RUNNING, m.Job.lease_expires_at < now
                    )
                )
            ).all()
        for job_id, cancel_requested, owner in rows:
            if cancel_requested:
                await self.events.append(
                    job_id,
                    "job",
                    r.STEP_CANCELLED,
                    job_status=r.CANCELLED,
                    expect=[r.RUNNING],
                    expired_before=now,
                    details={"reason": "cancelled by request; its worker stopped before it could finish"},
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
            details={"reason": reason},
            changes={"lease_owner": "", "lease_expires_at": None},
        )

    # Cancel and restart -------------------------------------------------------------------

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
        """Put a failed or cancelled job back to pending; finished steps stay finished."""
        job = await self._owned(project_id, job_id)
        if job.status not in (r.FAILED, r.CANCELLED):
            raise FailedPrecondition(
                f"job {job_id} is {job.status}; only failed or cancelled jobs can be restarted",
                reason="JOB_NOT_RESTARTABLE",
                metadata={"job_id": job_id, "status": job.status},
            )
        done = await self.events.append(
            job_id,
            "restarted",
            r.INFO,
            job_status=r.PENDING,
            expect=[r.FAILED, r.CANCELLED],
            details={"previous_status": job.status, "previous_error": job.error_code},
            changes={
                "error_code": "",
                "error_message": "",
                "completed_at": None,
                "cancel_requested": False,
                "result": None,
            },
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
