"""vecflow.v1.JobService handlers."""

from __future__ import annotations

import asyncio
import time

import grpc

from vecflow import validation
from vecflow.api import context as call
from vecflow.api import convert
from vecflow.api.common import idempotent
from vecflow.errors import Aborted
from vecflow.jobs.engine import JobEngine
from vecflow.jobs.records import EventRecord
from vecflow.jobs.watch import JobWatcher
from vecflow.services.idempotency import IdempotencyService
from vecflow.services.jobs import JobQueryService
from vecflow.v1 import job_service_pb2 as pb
from vecflow.v1 import job_service_pb2_grpc as rpc

Ctx = grpc.aio.ServicerContext


class WriteGuard:
    """Cuts off streams whose client stopped reading: one ticker checks every open write.

    A per-write timer would cost a heap entry per message per stream; this costs two attribute
    stores per message and one pass over the open streams every second.
    """

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._writing: dict[asyncio.Task[object], float] = {}
        self.stalled: set[asyncio.Task[object]] = set()
        self._ticker: asyncio.Task[None] | None = None

    def start(self, task: asyncio.Task[object]) -> None:
        self._writing[task] = time.monotonic()
        if self._ticker is None or self._ticker.done():
            self._ticker = asyncio.get_running_loop().create_task(self._tick(), name="vecflow-write-guard")

    def done(self, task: asyncio.Task[object]) -> None:
        self._writing.pop(task, None)

    async def _tick(self) -> None:
        while self._writing:
            await asyncio.sleep(min(1.0, self.timeout / 4))
            now = time.monotonic()
            for task, since in tuple(self._writing.items()):
                if now - since > self.timeout and task not in self.stalled:
                    self.stalled.add(task)
                    task.cancel()

    async def close(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            await asyncio.gather(self._ticker, return_exceptions=True)


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

    async def WatchJob(self, request: pb.WatchJobRequest, context: Ctx) -> None:
        # Written with context.write (not yield) so that a client that stops reading can be cut off
        # with ABORTED / WATCHER_TOO_SLOW instead of holding the stream open forever.
        task = asyncio.current_task()
        assert task is not None
        last = request.after_sequence
        try:
            async for item in self.watcher.watch(call.principal().project_id, request.job_id, request.after_sequence):
                message = convert.event_record_bytes(item) if isinstance(item, EventRecord) else convert.heartbeat(item)
                self.guard.start(task)  # type: ignore[arg-type]
                try:
                    await context.write(message)  # type: ignore[arg-type]
                finally:
                    self.guard.done(task)  # type: ignore[arg-type]
                if isinstance(item, EventRecord):
                    last = item.sequence
        except asyncio.CancelledError:
            if task not in self.guard.stalled:
                raise
            self.guard.stalled.discard(task)  # type: ignore[arg-type]
            task.uncancel()
            raise Aborted(
                f"this watcher did not read for {self.guard.timeout:g}s and was cut off; reconnect with "
                f"after_sequence set to the last sequence you received (at least {last})",
                reason="WATCHER_TOO_SLOW",
                metadata={"resume_after_sequence": str(last), "job_id": request.job_id},
            ) from None

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
