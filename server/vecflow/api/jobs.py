"""vecflow.v1.JobService handlers."""

from __future__ import annotations

import asyncio
import time
from typing import TypeAlias

import grpc
from vecflow_client.v1 import job_service_pb2 as pb
from vecflow_client.v1 import job_service_pb2_grpc as rpc

from vecflow import validation
from vecflow.api import context as call
from vecflow.api import convert
from vecflow.api.common import idempotent
from vecflow.jobs.engine import JobEngine
from vecflow.jobs.records import EventRecord
from vecflow.jobs.ticker import Ticker
from vecflow.jobs.watch import JobWatcher, watcher_too_slow
from vecflow.services.idempotency import IdempotencyService
from vecflow.services.jobs import JobQueryService

Ctx: TypeAlias = grpc.aio.ServicerContext


class WriteGuard:
    """Cuts off streams whose client stopped reading: one ticker checks every open write.

    A per-write timer would cost a heap entry per message per stream; this costs two attribute
    stores per message and one pass over the open streams every second.
    """

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._writing: dict[asyncio.Task[object], float] = {}
        self.stalled: set[asyncio.Task[object]] = set()
        self._ticker = Ticker("vecflow-write-guard", min(1.0, timeout / 4), self._sweep, lambda: bool(self._writing))

    def start(self, task: asyncio.Task[object]) -> None:
        self._writing[task] = time.monotonic()
        self._ticker.ensure()

    def done(self, task: asyncio.Task[object]) -> None:
        self._writing.pop(task, None)

    def _sweep(self, now: float) -> None:
        for task, since in tuple(self._writing.items()):
            if now - since > self.timeout and task not in self.stalled:
                self.stalled.add(task)
                task.cancel()

    async def close(self) -> None:
        await self._ticker.close()


class JobServicer(rpc.JobServiceServicer):
    def __init__(
        self,
        jobs: JobQueryService,
        engine: JobEngine,
        watcher: JobWatcher,
        idempotency: IdempotencyService,
        guard: WriteGuard,
    ) -> None:
        self.jobs = jobs
        self.engine = engine
        self.watcher = watcher
        self.idempotency = idempotency
        self.guard = guard

    async def GetJob(self, request: pb.GetJobRequest, context: Ctx) -> pb.GetJobResponse:
        job, history = await self.jobs.get(call.principal(), request.job_id)
        return pb.GetJobResponse(job=convert.job(job, history))

    async def ListJobs(self, request: pb.ListJobsRequest, context: Ctx) -> pb.ListJobsResponse:
        rows, token = await self.jobs.list(
            call.principal(),
            request.page_size,
            request.page_token,
            status=convert.JOB_STATUS.word(request.status),
            operation=convert.JOB_OPERATION.word(request.operation),
            source_id=request.source_id,
            correlation_id=request.correlation_id,
        )
        return pb.ListJobsResponse(jobs=[convert.job(r) for r in rows], next_page_token=token)

    # grpc.aio also serves a stream written with context.write; the stubs know only the iterator form.
    async def WatchJob(self, request: pb.WatchJobRequest, context: Ctx) -> None:  # type: ignore[override]
        # Written with context.write (not yield) so that a client that stops reading can be cut off
        # with ABORTED / WATCHER_TOO_SLOW instead of holding the stream open forever.
        task = asyncio.current_task()
        assert task is not None
        last = request.after_sequence
        try:
            async for item in self.watcher.watch(call.principal().project_id, request.job_id, request.after_sequence):
                message = convert.event_record_bytes(item) if isinstance(item, EventRecord) else convert.heartbeat(item)
                self.guard.start(task)
                try:
                    await context.write(message)
                finally:
                    self.guard.done(task)
                if isinstance(item, EventRecord):
                    last = item.sequence
        except asyncio.CancelledError:
            if task not in self.guard.stalled:
                raise
            self.guard.stalled.discard(task)
            task.uncancel()
            raise watcher_too_slow(request.job_id, last, f"did not read for {self.guard.timeout:g}s") from None

    async def CancelJob(self, request: pb.CancelJobRequest, context: Ctx) -> pb.CancelJobResponse:
        validation.required("job_id", request.job_id)

        async def produce() -> pb.CancelJobResponse:
            principal = call.principal()
            job = await self.engine.cancel(principal.project_id, request.job_id)
            _, history = await self.jobs.get(principal, job.id)
            return pb.CancelJobResponse(job=convert.job(job, history))

        return await idempotent(self.idempotency, "CancelJob", request, pb.CancelJobResponse, produce)

    async def RestartJob(self, request: pb.RestartJobRequest, context: Ctx) -> pb.RestartJobResponse:
        validation.required("job_id", request.job_id)

        async def produce() -> pb.RestartJobResponse:
            principal = call.principal()
            job = await self.engine.restart(principal.project_id, request.job_id)
            _, history = await self.jobs.get(principal, job.id)
            # The job as restarted: a worker may already have picked it up and added events.
            history = [e for e in history if e.sequence <= job.latest_sequence]
            return pb.RestartJobResponse(job=convert.job(job, history))

        return await idempotent(self.idempotency, "RestartJob", request, pb.RestartJobResponse, produce)
