"""A blocking client for scripts: the asyncio client, run on a private event loop in a background thread.

    with VecflowSyncClient("127.0.0.1:50051", api_key="vf_...") as client:
        reply = client.upload_file(kb_id, "report.pdf")
        for event in client.watch_job(reply.parse_job.id):
            print(event.step, event.status)

Every method of `VecflowClient` is here with the same arguments, blocking; async iterators
(`watch_job`, `iter_*`) are plain iterators. The stubs (`client.jobs.GetJob(request)`, ...) block
too; a server-streaming method returns an iterator.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterable, Iterator
from typing import Any, TypeVar, cast

import grpc
from google.protobuf import struct_pb2

from vecflow_client.client import DEFAULT_ADDRESS, Event, VecflowClient, kb_pb2, ut_pb2, vs_pb2
from vecflow_client.uploads import DEFAULT_CHUNK_SIZE, UploadSource
from vecflow_client.v1 import common_pb2, job_pb2

T = TypeVar("T")


class _SyncStub:
    """Blocking calls to one async stub: unary methods return the response, streaming ones an iterator."""

    def __init__(self, owner: VecflowSyncClient, stub: Any) -> None:
        self._owner = owner
        self._stub = stub

    def __getattr__(self, name: str) -> Callable[..., Any]:
        method = getattr(self._stub, name)
        owner = self._owner
        if isinstance(method, grpc.aio.UnaryStreamMultiCallable):

            def streaming(request: Any, **kwargs: Any) -> Iterator[Any]:
                async def messages() -> AsyncIterator[Any]:
                    async for message in method(request, **kwargs):
                        yield message

                return owner._iterate(messages())

            return streaming
        if isinstance(method, grpc.aio.StreamUnaryMultiCallable):

            def client_streaming(requests: Iterable[Any], **kwargs: Any) -> Any:
                async def call() -> Any:
                    return await method(iter(requests), **kwargs)

                return owner._run(call())

            return client_streaming

        def unary(request: Any, **kwargs: Any) -> Any:
            async def call() -> Any:
                return await method(request, **kwargs)

            return owner._run(call())

        return unary


class VecflowSyncClient:
    """The blocking twin of `VecflowClient` (same constructor arguments, same methods)."""

    def __init__(self, address: str = DEFAULT_ADDRESS, api_key: str = "", **options: Any) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="vecflow-sync-client", daemon=True)
        self._thread.start()
        self._closed = False

        async def create() -> VecflowClient:
            return VecflowClient(address, api_key, **options)

        try:
            self.aio = self._run(create())
        except BaseException:
            self._stop_loop()
            raise
        self.jobs = _SyncStub(self, self.aio.jobs)
        self.knowledge_bases = _SyncStub(self, self.aio.knowledge_bases)
        self.parse = _SyncStub(self, self.aio.parse)
        self.vector_stores = _SyncStub(self, self.aio.vector_stores)
        self.upsertion_tasks = _SyncStub(self, self.aio.upsertion_tasks)
        self.webhooks = _SyncStub(self, self.aio.webhooks)

    # Plumbing -----------------------------------------------------------------------------------

    def _run(self, coro: Coroutine[Any, Any, T] | Awaitable[T]) -> T:
        if self._closed:
            raise RuntimeError("the client is closed")
        # Typed for coroutines only; the __anext__() and aclose() awaitables passed here pass its coroutine check too.
        future = asyncio.run_coroutine_threadsafe(cast(Coroutine[Any, Any, T], coro), self._loop)
        try:
            return future.result()
        except BaseException:
            future.cancel()  # Ctrl-C (or any error here) stops the call in the loop too
            raise

    def _iterate(self, agen: AsyncIterator[T]) -> Iterator[T]:
        try:
            while True:
                try:
                    yield self._run(agen.__anext__())
                except StopAsyncIteration:
                    return
        finally:
            aclose = getattr(agen, "aclose", None)
            if aclose is not None and not self._closed:
                try:
                    self._run(aclose())
                except Exception:  # a generator interrupted mid-step cannot always be closed; it is dropped
                    pass

    def _stop_loop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        if not self._thread.is_alive():
            self._loop.close()

    def close(self) -> None:
        """Close the channel and stop the background loop."""
        if self._closed:
            return
        try:
            self._run(self.aio.close())
        finally:
            self._closed = True
            self._stop_loop()

    def __enter__(self) -> VecflowSyncClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def reconnects(self) -> int:
        return self.aio.reconnects

    @property
    def retry_stats(self) -> Any:
        return self.aio.retry_stats

    # The VecflowClient surface, blocking --------------------------------------------------------

    def watch_job(self, job_id: str, after_sequence: int = 0, **options: Any) -> Iterator[Event]:
        """See `VecflowClient.watch_job`; a plain iterator."""
        return self._iterate(self.aio.watch_job(job_id, after_sequence, **options))

    def wait_job(self, job_id: str, **watch_options: Any) -> job_pb2.Job:
        """See `VecflowClient.wait_job`."""
        return self._run(self.aio.wait_job(job_id, **watch_options))

    def get_job(self, job_id: str) -> job_pb2.Job:
        return self._run(self.aio.get_job(job_id))

    def upload_file(
        self,
        kb_id: str,
        path_or_bytes: UploadSource | None = None,
        *,
        name: str | None = None,
        directory: str = "",
        url: str = "",
        metadata: dict[str, Any] | struct_pb2.Struct | None = None,
        parse: bool | None = None,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        **options: Any,
    ) -> kb_pb2.UploadFileResponse:
        """See `VecflowClient.upload_file`."""
        return self._run(
            self.aio.upload_file(
                kb_id,
                path_or_bytes,
                name=name,
                directory=directory,
                url=url,
                metadata=metadata,
                parse=parse,
                chunk_size=chunk_size,
                **options,
            )
        )

    def ensure_directory(self, kb_id: str, path: str) -> None:
        self._run(self.aio.ensure_directory(kb_id, path))

    def wait_file_batch(self, vector_store_id: str, batch_id: str, **watch_options: Any) -> vs_pb2.FileBatch:
        return self._run(self.aio.wait_file_batch(vector_store_id, batch_id, **watch_options))

    def search(self, vector_store_id: str, query: str, **options: Any) -> list[common_pb2.SearchHit]:
        return self._run(self.aio.search(vector_store_id, query, **options))

    def search_collection(self, query: str, **options: Any) -> list[common_pb2.SearchHit]:
        return self._run(self.aio.search_collection(query, **options))

    def iter_knowledge_bases(self, **options: Any) -> Iterator[kb_pb2.KnowledgeBase]:
        return self._iterate(self.aio.iter_knowledge_bases(**options))

    def iter_files(
        self, kb_id: str, directory: str = "", recursive: bool = False, **options: Any
    ) -> Iterator[kb_pb2.File]:
        return self._iterate(self.aio.iter_files(kb_id, directory, recursive, **options))

    def iter_directories(self, kb_id: str, parent: str = "", **options: Any) -> Iterator[kb_pb2.Directory]:
        return self._iterate(self.aio.iter_directories(kb_id, parent, **options))

    def iter_vector_stores(self, **options: Any) -> Iterator[vs_pb2.VectorStore]:
        return self._iterate(self.aio.iter_vector_stores(**options))

    def iter_vector_store_files(self, vector_store_id: str, **options: Any) -> Iterator[vs_pb2.VectorStoreFile]:
        return self._iterate(self.aio.iter_vector_store_files(vector_store_id, **options))

    def iter_file_batch_files(
        self, vector_store_id: str, batch_id: str, **options: Any
    ) -> Iterator[vs_pb2.VectorStoreFile]:
        return self._iterate(self.aio.iter_file_batch_files(vector_store_id, batch_id, **options))

    def iter_jobs(self, **filters: Any) -> Iterator[job_pb2.Job]:
        return self._iterate(self.aio.iter_jobs(**filters))

    def iter_upsertion_tasks(self, **options: Any) -> Iterator[ut_pb2.UpsertionTask]:
        return self._iterate(self.aio.iter_upsertion_tasks(**options))
