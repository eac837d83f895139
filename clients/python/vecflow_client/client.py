"""An asyncio client over the generated vecflow.v1 stubs.

async with VecflowClient("127.0.0.1:50051", api_key="vf_...") as client:
    job = await client.wait_job(job_id)          # or: async for event in client.watch_job(job_id)
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Sequence
from typing import Any

import grpc
from google.rpc import error_details_pb2, status_pb2
from vecflow.v1 import (
    job_pb2,
    job_service_pb2,
    job_service_pb2_grpc,
    knowledge_base_service_pb2_grpc,
    parse_service_pb2_grpc,
    upsertion_task_service_pb2_grpc,
    vector_store_service_pb2_grpc,
)

Metadata = tuple[tuple[str, str], ...]
RESUMABLE_REASONS = {"WATCHER_TOO_SLOW"}


def _with_metadata(details: Any, metadata: Metadata) -> Any:
    return details._replace(metadata=tuple(details.metadata or ()) + metadata)


class _UnaryUnary(grpc.aio.UnaryUnaryClientInterceptor):
    def __init__(self, metadata: Metadata) -> None:
        self.metadata = metadata

    async def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        return await continuation(_with_metadata(details, self.metadata), request)


class _UnaryStream(grpc.aio.UnaryStreamClientInterceptor):
    def __init__(self, metadata: Metadata) -> None:
        self.metadata = metadata

    async def intercept_unary_stream(self, continuation: Any, details: Any, request: Any) -> Any:
        return await continuation(_with_metadata(details, self.metadata), request)


class _StreamUnary(grpc.aio.StreamUnaryClientInterceptor):
    def __init__(self, metadata: Metadata) -> None:
        self.metadata = metadata

    async def intercept_stream_unary(self, continuation: Any, details: Any, request_iterator: Any) -> Any:
        return await continuation(_with_metadata(details, self.metadata), request_iterator)


def metadata_interceptors(metadata: Metadata) -> list[grpc.aio.ClientInterceptor]:
    """Client interceptors that add fixed metadata (an API key, say) to every call of a channel."""
    return [_UnaryUnary(metadata), _UnaryStream(metadata), _StreamUnary(metadata)]


def error_reason(err: grpc.aio.AioRpcError) -> str:
    """The google.rpc.ErrorInfo reason of a failed call, or ""."""
    for key, value in err.trailing_metadata() or ():
        if key == "grpc-status-details-bin":
            for detail in status_pb2.Status.FromString(value).details:
                if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
                    info = error_details_pb2.ErrorInfo()
                    detail.Unpack(info)
                    return info.reason
    return ""


class VecflowClient:
    """One channel, one stub per service family, authenticated with an API key."""

    def __init__(
        self,
        address: str,
        api_key: str,
        *,
        bearer: bool = False,
        on_behalf_of: str = "",
        secure: bool = False,
        root_certificates: bytes | None = None,
        options: Sequence[tuple[str, Any]] = (),
    ) -> None:
        md: list[tuple[str, str]] = [("authorization", f"Bearer {api_key}") if bearer else ("x-api-key", api_key)]
        if on_behalf_of:
            md.append(("x-on-behalf-of", on_behalf_of))
        interceptors = metadata_interceptors(tuple(md))
        if secure:
            creds = grpc.ssl_channel_credentials(root_certificates=root_certificates)
            self.channel = grpc.aio.secure_channel(address, creds, options=options, interceptors=interceptors)
        else:
            self.channel = grpc.aio.insecure_channel(address, options=options, interceptors=interceptors)
        self.jobs = job_service_pb2_grpc.JobServiceStub(self.channel)
        self.knowledge_bases = knowledge_base_service_pb2_grpc.KnowledgeBaseServiceStub(self.channel)
        self.parse = parse_service_pb2_grpc.ParseServiceStub(self.channel)
        self.vector_stores = vector_store_service_pb2_grpc.VectorStoreServiceStub(self.channel)
        self.upsertion_tasks = upsertion_task_service_pb2_grpc.UpsertionTaskServiceStub(self.channel)
        self.reconnects = 0

    async def __aenter__(self) -> VecflowClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self.channel.close()

    async def watch_job(
        self,
        job_id: str,
        after_sequence: int = 0,
        *,
        heartbeats: bool = False,
        max_attempts: int = 30,
        max_backoff: float = 5.0,
    ) -> AsyncIterator[job_pb2.JobHistoryEvent | job_service_pb2.WatchJobHeartbeat]:
        """Yield every history event after `after_sequence` exactly once, until the job ends.

        Reconnects with the last sequence seen when the stream drops (UNAVAILABLE) or the server
        cuts off a slow reader (ABORTED / WATCHER_TOO_SLOW), backing off up to `max_backoff`
        seconds, and gives up after `max_attempts` failures in a row. Heartbeats are yielded
        too when `heartbeats` is true.
        """
        last, failures = after_sequence, 0
        while True:
            call = self.jobs.WatchJob(job_service_pb2.WatchJobRequest(job_id=job_id, after_sequence=last))
            try:
                async for message in call:
                    failures = 0
                    if message.HasField("event"):
                        if message.event.sequence <= last:
                            continue
                        last = message.event.sequence
                        yield message.event
                    elif heartbeats:
                        yield message.heartbeat
                return
            except grpc.aio.AioRpcError as err:
                resumable = err.code() == grpc.StatusCode.UNAVAILABLE or (
                    err.code() == grpc.StatusCode.ABORTED and error_reason(err) in RESUMABLE_REASONS
                )
                failures += 1
                if not resumable or failures > max_attempts:
                    raise
                self.reconnects += 1
                delay = min(max_backoff, 0.05 * 2 ** min(failures, 10))
                await asyncio.sleep(delay * (0.5 + random.random() / 2))
            finally:
                call.cancel()

    async def wait_job(self, job_id: str, **watch_options: Any) -> job_pb2.Job:
        """Block until the job reaches a terminal status; return it with its history."""
        async for _ in self.watch_job(job_id, **watch_options):
            pass
        return (await self.jobs.GetJob(job_service_pb2.GetJobRequest(job_id=job_id))).job
