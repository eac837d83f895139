"""vecflow.v1.JobService handlers."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc

from vecflow.api import context as call
from vecflow.api import convert
from vecflow.api.common import not_yet
from vecflow.services.jobs import JobQueryService
from vecflow.v1 import job_service_pb2 as pb
from vecflow.v1 import job_service_pb2_grpc as rpc


class JobServicer(rpc.JobServiceServicer):
    def __init__(self, jobs: JobQueryService) -> None:
        self.jobs = jobs

    async def GetJob(self, request: pb.GetJobRequest, context: grpc.aio.ServicerContext) -> pb.GetJobResponse:
        job, history = await self.jobs.get(call.principal(), request.job_id)
        return pb.GetJobResponse(job=convert.job(job, history))

    async def ListJobs(self, request: pb.ListJobsRequest, context: grpc.aio.ServicerContext) -> pb.ListJobsResponse:
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

    async def WatchJob(
        self, request: pb.WatchJobRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.WatchJobResponse]:
        await self.jobs.require(call.principal(), request.job_id)
        raise not_yet("JobService/WatchJob", "job engine")
        yield  # pragma: no cover - makes this an async generator

    async def CancelJob(self, request: pb.CancelJobRequest, context: grpc.aio.ServicerContext) -> pb.CancelJobResponse:
        await self.jobs.require(call.principal(), request.job_id)
        raise not_yet("JobService/CancelJob", "job engine")

    async def RestartJob(
        self, request: pb.RestartJobRequest, context: grpc.aio.ServicerContext
    ) -> pb.RestartJobResponse:
        await self.jobs.require(call.principal(), request.job_id)
        raise not_yet("JobService/RestartJob", "job engine")
