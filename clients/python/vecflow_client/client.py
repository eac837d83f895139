"""An asyncio client over the generated vecflow.v1 stubs.

    async with VecflowClient("127.0.0.1:50051", api_key="vf_...") as client:
        kb = (await client.knowledge_bases.CreateKnowledgeBase(kb_pb2.CreateKnowledgeBaseRequest(name="docs")))
        reply = await client.upload_file(kb.knowledge_base.id, "report.pdf")
        job = await client.wait_job(reply.parse_job.id)      # or: async for event in client.watch_job(...)

Every unary call made through the stubs (`client.jobs`, `client.knowledge_bases`, `client.parse`,
`client.vector_stores`, `client.upsertion_tasks`, `client.webhooks`) gets a default deadline, is retried on
UNAVAILABLE with exponential backoff and jitter, and — when it mutates — carries a fresh `request_id` unless the
caller set one, so that a retry is answered with the first call's result (see `RetryPolicy`).
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import grpc
from google.protobuf import struct_pb2
from google.protobuf.message import Message

from vecflow_client.convert import enum_value, ranking, to_struct
from vecflow_client.errors import RESUMABLE_REASONS, error_reason
from vecflow_client.metadata import metadata_interceptors
from vecflow_client.retry import RetryingUnaryUnary, RetryPolicy, RetryStats
from vecflow_client.uploads import DEFAULT_CHUNK_SIZE, Source, UploadSource, url_name
from vecflow_client.v1 import (
    common_pb2,
    job_pb2,
    job_service_pb2,
    job_service_pb2_grpc,
    knowledge_base_service_pb2,
    knowledge_base_service_pb2_grpc,
    parse_service_pb2_grpc,
    upsertion_task_service_pb2,
    upsertion_task_service_pb2_grpc,
    vector_store_service_pb2,
    vector_store_service_pb2_grpc,
    webhook_service_pb2_grpc,
)

kb_pb2 = knowledge_base_service_pb2
vs_pb2 = vector_store_service_pb2
ut_pb2 = upsertion_task_service_pb2

if TYPE_CHECKING:
    pass

DEFAULT_ADDRESS = "127.0.0.1:50051"
DEFAULT_TIMEOUT = 60.0
# Reconnect quickly after a server restart (gRPC's own default backs off up to 120 s), and accept
# responses larger than gRPC's 4 MiB default (a long job history, a big page).
DEFAULT_CHANNEL_OPTIONS: tuple[tuple[str, Any], ...] = (
    ("grpc.initial_reconnect_backoff_ms", 250),
    ("grpc.max_reconnect_backoff_ms", 3000),
    ("grpc.max_receive_message_length", 64 << 20),
)

T = TypeVar("T")
Event = job_pb2.JobHistoryEvent | job_service_pb2.WatchJobHeartbeat


class VecflowClient:
    """One channel to a vecflow server, one stub per service family, authenticated with an API key.

    Args:
        address: `host:port` of the server.
        api_key: sent as `x-api-key` (or `authorization: Bearer` with `bearer=True`).
        on_behalf_of: sent as `x-on-behalf-of`; recorded on what the calls create.
        secure / root_certificates: TLS instead of plaintext.
        options: extra gRPC channel options (they win over the client's defaults).
        retry: how unary calls are retried (`RetryPolicy()`: 4 tries on UNAVAILABLE); `NO_RETRY` disables.
        timeout: default deadline in seconds of each unary call that does not pass `timeout=`
            (None: no deadline). Streams (uploads, WatchJob) have none by default.
        interceptors: extra grpc.aio client interceptors, run inside the retrying one.
    """

    def __init__(
        self,
        address: str = DEFAULT_ADDRESS,
        api_key: str = "",
        *,
        bearer: bool = False,
        on_behalf_of: str = "",
        secure: bool = False,
        root_certificates: bytes | None = None,
        options: Sequence[tuple[str, Any]] = (),
        retry: RetryPolicy | None = None,
        timeout: float | None = DEFAULT_TIMEOUT,
        interceptors: Sequence[grpc.aio.ClientInterceptor] = (),
    ) -> None:
        self.address = address
        self.retry = retry or RetryPolicy()
        self.timeout = timeout
        self.retry_stats = RetryStats()
        md: list[tuple[str, str]] = []
        if api_key:
            md.append(("authorization", f"Bearer {api_key}") if bearer else ("x-api-key", api_key))
        if on_behalf_of:
            md.append(("x-on-behalf-of", on_behalf_of))
        chain: list[grpc.aio.ClientInterceptor] = [RetryingUnaryUnary(self.retry, timeout, self.retry_stats)]
        chain += list(interceptors)
        if md:
            chain += metadata_interceptors(tuple(md))
        given = {key for key, _ in options}
        opts = [o for o in DEFAULT_CHANNEL_OPTIONS if o[0] not in given] + list(options)
        if secure:
            creds = grpc.ssl_channel_credentials(root_certificates=root_certificates)
            self.channel = grpc.aio.secure_channel(address, creds, options=opts, interceptors=chain)
        else:
            self.channel = grpc.aio.insecure_channel(address, options=opts, interceptors=chain)
        self.jobs = job_service_pb2_grpc.JobServiceStub(self.channel)
        self.knowledge_bases = knowledge_base_service_pb2_grpc.KnowledgeBaseServiceStub(self.channel)
        self.parse = parse_service_pb2_grpc.ParseServiceStub(self.channel)
        self.vector_stores = vector_store_service_pb2_grpc.VectorStoreServiceStub(self.channel)
        self.upsertion_tasks = upsertion_task_service_pb2_grpc.UpsertionTaskServiceStub(self.channel)
        self.webhooks = webhook_service_pb2_grpc.WebhookServiceStub(self.channel)
        self.reconnects = 0  # WatchJob streams resumed after a drop

    async def __aenter__(self) -> VecflowClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the channel; calls in flight are cancelled."""
        await self.channel.close()

    # Jobs -----------------------------------------------------------------------------------------

    async def watch_job(
        self,
        job_id: str,
        after_sequence: int = 0,
        *,
        heartbeats: bool = False,
        max_attempts: int = 30,
        max_backoff: float = 5.0,
    ) -> AsyncIterator[Event]:
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
                # CANCELLED here came from the server (a local cancel raises CancelledError instead):
                # its write guard cut off a stream that stopped reading.
                resumable = err.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED) or (
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

    async def get_job(self, job_id: str) -> job_pb2.Job:
        """One job, with its history."""
        return (await self.jobs.GetJob(job_service_pb2.GetJobRequest(job_id=job_id))).job

    # Knowledge bases and uploads -------------------------------------------------------------

    async def upload_file(
        self,
        kb_id: str,
        path_or_bytes: UploadSource | None = None,
        *,
        name: str | None = None,
        directory: str = "",
        url: str = "",
        metadata: Mapping[str, Any] | struct_pb2.Struct | None = None,
        parse: bool | None = None,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        content_type: str = "",
        sha256: str = "",
        request_id: str = "",
        replace: bool = False,
        timeout: float | None = None,  # noqa: ASYNC109 (a gRPC deadline, as on the stubs)
        progress: Callable[[int], None] | None = None,
    ) -> kb_pb2.UploadFileResponse:
        """Upload one file into a knowledge base and return the stored file and its parse job.

        `path_or_bytes` is a local path (streamed from disk in `chunk_size` pieces, never read
        whole), bytes, or a binary file object; or give `url` instead and the server fetches it.
        `name` defaults to the path's or the URL's last segment. Missing directories of `directory` are
        created. `parse`: True / False / None (follow the knowledge base's auto_parse). `replace`: a file of
        that name takes the new content (IF_EXISTS_REPLACE; the reply's `outcome` says REPLACED or
        UNCHANGED) instead of ALREADY_EXISTS. `progress(bytes_sent)` is called after each piece.

        Retried on UNAVAILABLE like unary calls when the content can be read again. URL uploads
        are deduplicated by `request_id` on the server; for streamed content a retry that finds
        the name taken by a file with the same sha256 returns that file (the earlier try landed).
        """
        if (path_or_bytes is None) == (not url):
            raise ValueError("give exactly one of path_or_bytes and url")
        if chunk_size <= 0:
            raise ValueError("chunk_size must be positive")
        source = Source(path_or_bytes)
        if name is None:
            name = source.default_name() if path_or_bytes is not None else url_name(url)
        if not name:
            raise ValueError("name is required when uploading bytes or a stream without a name")
        meta = kb_pb2.UploadFileMetadata(
            kb_id=kb_id,
            name=name,
            directory=directory,
            url=url,
            content_type=content_type,
            sha256=sha256,
            request_id=request_id or str(uuid.uuid4()),
            if_exists=kb_pb2.IF_EXISTS_REPLACE if replace else kb_pb2.IF_EXISTS_UNSPECIFIED,
        )
        if metadata is not None:
            meta.metadata.CopyFrom(to_struct(metadata))
        if parse is not None:
            meta.parse = parse

        async def messages() -> AsyncIterator[kb_pb2.UploadFileRequest]:
            yield kb_pb2.UploadFileRequest(metadata=meta)
            if url:
                return
            sent = 0
            async for piece in source.chunks(chunk_size):
                yield kb_pb2.UploadFileRequest(chunk=piece)
                sent += len(piece)
                if progress is not None:
                    progress(sent)

        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        failures = 0
        dropped = False  # an earlier try failed in a way that may have landed on the server
        while True:
            remaining = None if deadline is None else max(deadline - loop.time(), 0.001)
            try:
                return await self.knowledge_bases.UploadFile(messages(), timeout=remaining)
            except grpc.aio.AioRpcError as err:
                if dropped and not url and err.code() == grpc.StatusCode.ALREADY_EXISTS:
                    landed = await self._landed_upload(kb_id, directory, name, source)
                    if landed is not None:
                        return landed
                failures += 1
                retryable = err.code() in self.retry.codes and source.replayable
                delay = self.retry.backoff(failures)
                if not retryable or failures >= self.retry.attempts:
                    raise
                if deadline is not None and loop.time() + delay >= deadline:
                    raise
                dropped = True
                self.retry_stats.retries += 1
                self.retry_stats.last_error = err.code()
                await asyncio.sleep(delay)

    async def _landed_upload(
        self, kb_id: str, directory: str, name: str, source: Source
    ) -> kb_pb2.UploadFileResponse | None:
        """After a dropped upload and a NAME_TAKEN retry: the file, if it is ours (same content)."""
        digest = await source.sha256()
        async for existing in self.iter_files(kb_id, directory):
            if existing.name == name:
                if existing.uid != digest:
                    return None
                reply = kb_pb2.UploadFileResponse(file=existing)
                if existing.parse_job_id:
                    reply.parse_job.CopyFrom(await self.get_job(existing.parse_job_id))
                return reply
        return None

    async def ensure_directory(self, kb_id: str, path: str) -> None:
        """Create directory `path` and its missing parents; a directory that exists is fine."""
        if not path.strip("/"):
            return
        try:
            await self.knowledge_bases.CreateDirectory(
                kb_pb2.CreateDirectoryRequest(kb_id=kb_id, path=path.strip("/"), create_parents=True)
            )
        except grpc.aio.AioRpcError as err:
            # ALREADY_EXISTS: a directory (fine) or a file (not fine) has that name.
            if err.code() != grpc.StatusCode.ALREADY_EXISTS or not await self.is_directory(kb_id, path.strip("/")):
                raise

    async def is_directory(self, kb_id: str, path: str) -> bool:
        """Whether `path` is a directory of the knowledge base."""
        parent, _, leaf = path.rpartition("/")
        async for directory in self.iter_directories(kb_id, parent):
            if directory.name == leaf:
                return True
        return False

    # Vector stores and search -------------------------------------------------------------------

    async def wait_file_batch(self, vector_store_id: str, batch_id: str, **watch_options: Any) -> vs_pb2.FileBatch:
        """Block until a file batch is finished; return it with its final file_counts."""
        request = vs_pb2.GetFileBatchRequest(vector_store_id=vector_store_id, batch_id=batch_id)
        batch = (await self.vector_stores.GetFileBatch(request)).file_batch
        await self.wait_job(batch.job_id, **watch_options)
        return (await self.vector_stores.GetFileBatch(request)).file_batch

    async def search(
        self,
        vector_store_id: str,
        query: str,
        *,
        max_num_results: int = 10,
        mode: int | str | None = None,
        filter: str = "",
        score_threshold: float = 0.0,
    ) -> list[common_pb2.SearchHit]:
        """Search a vector store; `mode` is "dense", "keyword" or "hybrid" (default)."""
        reply = await self.vector_stores.SearchVectorStore(
            vs_pb2.SearchVectorStoreRequest(
                vector_store_id=vector_store_id,
                query=query,
                max_num_results=max_num_results,
                filter=filter,
                ranking_options=ranking(mode, score_threshold),
            )
        )
        return list(reply.hits)

    async def search_collection(
        self,
        query: str,
        *,
        collection: int | str | None = None,
        max_num_results: int = 10,
        mode: int | str | None = None,
        filter: str = "",
        score_threshold: float = 0.0,
    ) -> list[common_pb2.SearchHit]:
        """Search an upsertion collection ("default" or "categories")."""
        reply = await self.upsertion_tasks.SearchCollection(
            ut_pb2.SearchCollectionRequest(
                collection=enum_value(ut_pb2.Collection, "COLLECTION_", collection),
                query=query,
                max_num_results=max_num_results,
                filter=filter,
                ranking_options=ranking(mode, score_threshold),
            )
        )
        return list(reply.hits)

    # Paging -----------------------------------------------------------------------------------

    async def _paged(self, method: Any, request: Message, field: str) -> AsyncIterator[Any]:
        request_copy = type(request)()
        request_copy.CopyFrom(request)
        while True:
            reply = await method(request_copy)
            for item in getattr(reply, field):
                yield item
            if not reply.next_page_token:
                return
            request_copy.page_token = reply.next_page_token  # type: ignore[attr-defined]

    def iter_knowledge_bases(self, *, page_size: int = 0) -> AsyncIterator[kb_pb2.KnowledgeBase]:
        """Every knowledge base of the project, newest first, fetched page by page."""
        request = kb_pb2.ListKnowledgeBasesRequest(page_size=page_size)
        return self._paged(self.knowledge_bases.ListKnowledgeBases, request, "knowledge_bases")

    def iter_files(
        self,
        kb_id: str,
        directory: str = "",
        recursive: bool = False,
        *,
        parse_state: int | str | None = None,
        page_size: int = 0,
    ) -> AsyncIterator[kb_pb2.File]:
        """The files of one directory (and, with `recursive`, of every directory below it)."""
        request = kb_pb2.ListFilesRequest(
            kb_id=kb_id,
            directory=directory,
            recursive=recursive,
            parse_state=enum_value(kb_pb2.ParseState, "PARSE_STATE_", parse_state),
            page_size=page_size,
        )
        return self._paged(self.knowledge_bases.ListFiles, request, "files")

    def iter_directories(self, kb_id: str, parent: str = "", *, page_size: int = 0) -> AsyncIterator[kb_pb2.Directory]:
        """The immediate subdirectories of `parent`, by name."""
        request = kb_pb2.ListDirectoriesRequest(kb_id=kb_id, parent=parent, page_size=page_size)
        return self._paged(self.knowledge_bases.ListDirectories, request, "directories")

    def iter_vector_stores(self, *, page_size: int = 0) -> AsyncIterator[vs_pb2.VectorStore]:
        """Every vector store of the project, newest first."""
        request = vs_pb2.ListVectorStoresRequest(page_size=page_size)
        return self._paged(self.vector_stores.ListVectorStores, request, "vector_stores")

    def iter_vector_store_files(
        self, vector_store_id: str, *, status: int | str | None = None, page_size: int = 0
    ) -> AsyncIterator[vs_pb2.VectorStoreFile]:
        """The files of a vector store, optionally only those in one status ("completed", ...)."""
        request = vs_pb2.ListVectorStoreFilesRequest(
            vector_store_id=vector_store_id,
            status=enum_value(vs_pb2.VectorStoreFileStatus, "VECTOR_STORE_FILE_STATUS_", status),
            page_size=page_size,
        )
        return self._paged(self.vector_stores.ListVectorStoreFiles, request, "files")

    def iter_file_batch_files(
        self, vector_store_id: str, batch_id: str, *, status: int | str | None = None, page_size: int = 0
    ) -> AsyncIterator[vs_pb2.VectorStoreFile]:
        """The files of one file batch."""
        request = vs_pb2.ListFileBatchFilesRequest(
            vector_store_id=vector_store_id,
            batch_id=batch_id,
            status=enum_value(vs_pb2.VectorStoreFileStatus, "VECTOR_STORE_FILE_STATUS_", status),
            page_size=page_size,
        )
        return self._paged(self.vector_stores.ListFileBatchFiles, request, "files")

    def iter_jobs(
        self,
        *,
        status: int | str | None = None,
        operation: int | str | None = None,
        source_id: str = "",
        correlation_id: str = "",
        page_size: int = 0,
    ) -> AsyncIterator[job_pb2.Job]:
        """The project's jobs, newest first, without history; filters as in ListJobs."""
        request = job_service_pb2.ListJobsRequest(
            status=enum_value(job_pb2.JobStatus, "JOB_STATUS_", status),
            operation=enum_value(job_pb2.JobOperation, "JOB_OPERATION_", operation),
            source_id=source_id,
            correlation_id=correlation_id,
            page_size=page_size,
        )
        return self._paged(self.jobs.ListJobs, request, "jobs")

    def iter_upsertion_tasks(
        self, *, status: int | str | None = None, page_size: int = 0
    ) -> AsyncIterator[ut_pb2.UpsertionTask]:
        """The project's upsertion tasks, newest first, fetched page by page (by token)."""
        request = ut_pb2.ListUpsertionTasksRequest(
            page_size=page_size, status=enum_value(ut_pb2.UpsertionTaskStatus, "UPSERTION_TASK_STATUS_", status)
        )
        return self._paged(self.upsertion_tasks.ListUpsertionTasks, request, "upsertion_tasks")
