"""The composition root: settings → database → services → gRPC server, and its lifecycle.

A replica's role (VECFLOW_ROLE) decides what it runs: `all` everything; `api` the gRPC API and no jobs (no job
workers, no warm-up: the embedding model loads only when an API call needs it, such as a search embedding its
query); `worker` the jobs, with only gRPC health on the port. Every role runs the lease reaper and the sweeps,
each sweep round on one replica at a time; vector-store expiry, which opens Milvus and so the model, runs on
the roles that run jobs, and so does the webhook deliverer (outbox rows are written as jobs end, so every
deployment that produces events has such a replica, and `api` replicas make no requests to customers' URLs).
"""

from __future__ import annotations

import asyncio
import logging
import os
import time

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from vecflow_client.v1 import (
    job_service_pb2,
    job_service_pb2_grpc,
    knowledge_base_service_pb2,
    knowledge_base_service_pb2_grpc,
    parse_service_pb2,
    parse_service_pb2_grpc,
    upsertion_task_service_pb2,
    upsertion_task_service_pb2_grpc,
    vector_store_service_pb2,
    vector_store_service_pb2_grpc,
    webhook_service_pb2,
    webhook_service_pb2_grpc,
)

from vecflow import __version__
from vecflow.api.interceptors import default_interceptors
from vecflow.api.jobs import JobServicer, WriteGuard
from vecflow.api.knowledge_bases import KnowledgeBaseServicer
from vecflow.api.parse import ParseServicer
from vecflow.api.upsertion_tasks import UpsertionTaskServicer
from vecflow.api.vector_stores import VectorStoreServicer
from vecflow.api.webhooks import WebhookServicer
from vecflow.config import Settings, SettingsError
from vecflow.jobs import plugins
from vecflow.jobs.engine import EngineSettings, JobEngine
from vecflow.jobs.eventlog import EventLog
from vecflow.jobs.hub import WatchHub
from vecflow.jobs.listener import EventListener
from vecflow.jobs.watch import JobWatcher
from vecflow.metrics import MetricsServer, identify
from vecflow.operations import Operation
from vecflow.operations.chunk import ChunkPreview
from vecflow.operations.extract import Extract
from vecflow.operations.file_batch import IndexFileBatch
from vecflow.operations.index_run import IndexTools
from vecflow.operations.parse import Parse
from vecflow.operations.purge_files import PurgeFiles
from vecflow.operations.upsert import UpsertItems
from vecflow.operations.vector_store import IndexFiles
from vecflow.pipeline.chunk import tokenizer_json
from vecflow.pipeline.embed import embedder_from_settings
from vecflow.pipeline.fetch import FetchPolicy
from vecflow.pipeline.parse import ParseLimits
from vecflow.pipeline.parse_worker import ParsePool
from vecflow.services.auth import AuthService, IssuedKey
from vecflow.services.documents import DocumentService
from vecflow.services.idempotency import IdempotencyService
from vecflow.services.indexing import IndexingService
from vecflow.services.jobs import JobQueryService
from vecflow.services.knowledge_bases import KnowledgeBaseService
from vecflow.services.parse import ParseResultService
from vecflow.services.purge import FilePurge, reclaim_contents
from vecflow.services.upsertion import UpsertionTaskService
from vecflow.services.vector_stores import ChunkingLimits, VectorStoreService
from vecflow.services.webhooks import DeliverySettings, WebhookDeliverer, WebhookService
from vecflow.storage import locks, migrate, objects, paging
from vecflow.storage.db import Database
from vecflow.storage.secrets import shared_secret
from vecflow.tracing import for_replica
from vecflow.vectors.milvus import MilvusIndex, index_setting_refusal

log = logging.getLogger("vecflow.app")

SERVICE_NAMES = (
    job_service_pb2.DESCRIPTOR.services_by_name["JobService"].full_name,
    knowledge_base_service_pb2.DESCRIPTOR.services_by_name["KnowledgeBaseService"].full_name,
    parse_service_pb2.DESCRIPTOR.services_by_name["ParseService"].full_name,
    vector_store_service_pb2.DESCRIPTOR.services_by_name["VectorStoreService"].full_name,
    upsertion_task_service_pb2.DESCRIPTOR.services_by_name["UpsertionTaskService"].full_name,
    webhook_service_pb2.DESCRIPTOR.services_by_name["WebhookService"].full_name,
)


class App:
    """One vecflow server process: start() binds and serves, stop() drains and closes."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.db = Database(settings.database_url)
        self.auth = AuthService(self.db, cache_seconds=settings.auth_cache_seconds)
        self.idempotency = IdempotencyService(self.db, settings.idempotency_ttl_seconds)
        self.embedder = embedder_from_settings(
            settings.embedding_model,
            settings.embedding_endpoint,
            settings.embedding_api_key,
            batch_size=settings.embedding_batch_size,
            workers=settings.embedding_workers or None,
        )
        self.vector_stores = VectorStoreService(self.db, self.embedder.name, self._chunk_limits)
        self.jobs = JobQueryService(self.db)
        self.hub = WatchHub(settings.watch_queue_size, settings.watch_heartbeat_seconds)
        self.events = EventLog(self.db, self.hub, settings.job_history_limit)
        # Tracing off (no OTLP endpoint): OFF, and no OpenTelemetry module is imported.
        self.tracing = for_replica(settings.otlp_endpoint, settings.replica_id, __version__)
        self.engine = JobEngine(
            self.events,
            EngineSettings(
                workers=settings.workers,
                lease_seconds=settings.job_lease_seconds,
                poll_seconds=settings.job_poll_seconds,
                shutdown_grace_seconds=settings.shutdown_grace_seconds,
                run_jobs=settings.role != "api",
            ),
            replica_id=settings.replica_id,
            tracing=self.tracing,
        )
        self.sqlite_lock = locks.SqliteFileLock.for_url(settings.database_url)
        self.watcher = JobWatcher(self.events, self.hub)
        self.listener = EventListener(self.events, self.hub, settings.watch_poll_seconds)
        self.write_guard = WriteGuard(settings.watch_write_timeout_seconds)
        self.objects = objects.from_url(settings.blob_url, settings.data_dir)
        self.blobs = self.objects.blobs
        self.parsed = self.objects.parsed
        self.parser = ParsePool(
            workers=settings.parse_workers or min(4, os.cpu_count() or 1),
            memory_bytes=settings.parse_memory_bytes,
            timeout_seconds=settings.parse_timeout_seconds,
            limits=ParseLimits(
                max_characters=settings.parse_max_characters,
                max_expanded_bytes=settings.parse_max_expanded_bytes,
                max_cells=settings.parse_max_cells,
                max_ocr_pages=settings.ocr_max_pages,
                max_table_pages=settings.parse_max_table_pages,
            ),
            tokenizer_json=lambda: tokenizer_json(self.embedder.tokenizer),
        )
        self.documents = DocumentService(
            self.db,
            self.engine,
            self.blobs,
            FetchPolicy(
                max_bytes=settings.max_upload_bytes,
                timeout_seconds=settings.fetch_timeout_seconds,
                max_redirects=settings.fetch_max_redirects,
                allow_hosts=frozenset(settings.fetch_allow_hosts),
            ),
            settings.max_upload_bytes,
            self._chunk_limits,
        )
        self.indexing = IndexingService(
            self.db,
            self.engine,
            self.vector_stores,
            self.embedder,
            lambda dim: MilvusIndex(
                settings.milvus_uri, settings.milvus_token, dim=dim, index_type=settings.milvus_index
            ),
            settings.max_batch_files,
            settings.max_search_results,
        )
        self.purge = FilePurge(self.db, self.engine)
        self.knowledge_bases = KnowledgeBaseService(self.db, self.purge)
        self.sweeper: asyncio.Task[None] | None = None
        self.warmer: asyncio.Task[None] | None = None
        self.parse_results = ParseResultService(self.db)
        self._add_webhooks(settings)
        self.upsertion_tasks = UpsertionTaskService(
            self.db,
            self.engine,
            self.embedder,
            self.indexing.ready,
            max_task_items=settings.max_task_items,
            max_item_payload_bytes=settings.max_item_payload_bytes,
            max_search_results=settings.max_search_results,
        )
        self.health = health.aio.HealthServicer()
        self.server: grpc.aio.Server | None = None
        self.metrics: MetricsServer | None = None
        self.port = 0
        self.bootstrap_key: IssuedKey | None = None
        self.upsert_items = UpsertItems(self.db, self.embedder, self.indexing.ready)
        self.operations = self._operations()
        for operation in self.operations:
            self.engine.register(operation.name, operation.handler, on_cancel_unstarted=operation.cancelled_unstarted)
        plugins.load(self.engine, settings.job_plugins)

    def _add_webhooks(self, settings: Settings) -> None:
        """Webhook endpoints, under the URL uploads' SSRF rules (VECFLOW_FETCH_ALLOW_HOSTS), and their deliverer."""
        delivery = DeliverySettings(
            timeout_seconds=settings.webhook_timeout_seconds,
            retry_base_seconds=settings.webhook_retry_base_seconds,
            retry_max_delay_seconds=settings.webhook_retry_max_delay_seconds,
            retry_window_seconds=settings.webhook_retry_window_seconds,
            poll_seconds=settings.webhook_poll_seconds,
            concurrency=settings.webhook_concurrency,
        )
        policy = FetchPolicy(
            timeout_seconds=delivery.timeout_seconds,
            connect_timeout_seconds=min(10.0, delivery.timeout_seconds),
            max_redirects=0,
            allow_hosts=frozenset(settings.fetch_allow_hosts),
        )
        self.webhooks = WebhookService(self.db, policy, settings.webhook_max_per_project)
        self.webhook_deliverer = WebhookDeliverer(self.db, policy, delivery, replica_id=settings.replica_id)

    async def _chunk_limits(self) -> ChunkingLimits:
        """The embedding model's input limit (loads the model on first use, off the event loop)."""
        await self.embedder.load()
        return ChunkingLimits(max_chunk_size_tokens=self.embedder.max_tokens)

    def _operations(self) -> list[Operation]:
        """Every job operation (`JobOperation` in proto/vecflow/v1/job.proto) and what runs it, in one place
        (vecflow.operations); job plugins (VECFLOW_JOB_PLUGINS) add theirs at start."""
        parse = Parse(
            self.db,
            self.engine,
            self.blobs,
            self.parsed,
            self.parser,
            self.embedder,
            reindex=self.indexing.reindex_file,
        )
        tools = IndexTools(self.db, self.engine, self.parsed, self.embedder)
        index_files = IndexFiles(tools, self.indexing.ready)
        index_batch = IndexFileBatch(tools, self.indexing.ready)
        return [
            Operation("parse", parse, parse.cancelled_unstarted),
            Operation("extract", Extract(self.db, self.parsed)),
            Operation("chunk", ChunkPreview(self.db, self.parsed, self.embedder)),
            Operation("vector_store", index_files, index_files.cancelled_unstarted),
            Operation("file_batch", index_batch, index_batch.cancelled_unstarted),
            Operation("upsert", self.upsert_items, self.upsert_items.cancelled_unstarted),
            Operation("purge_files", PurgeFiles(self.parsed, self.indexing.ready)),
        ]

    async def prepare_storage(self) -> None:
        """Create the data directory, migrate the schema, and bootstrap an empty database (SQLite: once this
        server has the file to itself; SingleNodeDatabase otherwise, or for a role that needs replicas)."""
        if self.db.dialect == "sqlite" and self.settings.role != "all":
            raise locks.SingleNodeDatabase(
                f"VECFLOW_ROLE={self.settings.role} needs a database that replicas share (PostgreSQL): SQLite is the "
                "single-node default, where one server with role `all` serves the API and runs the jobs"
            )
        if self.sqlite_lock is not None:
            self.sqlite_lock.acquire()
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        await migrate.upgrade(self.db)
        paging.use_key(await shared_secret(self.db, "page_tokens"))
        self.bootstrap_key = await self.auth.bootstrap(self.settings.bootstrap_api_key)

    async def start(self) -> int:
        """Serve on the configured address; returns the bound port."""
        try:
            return await self._start()
        except BaseException:
            if self.sqlite_lock is not None:
                self.sqlite_lock.release()
            raise

    async def _start(self) -> int:
        s = self.settings
        refusal = await asyncio.to_thread(index_setting_refusal, s.milvus_uri, s.milvus_token, s.milvus_index)
        if refusal is not None:
            raise SettingsError(refusal)
        await self.prepare_storage()
        limit = self.settings.max_message_bytes
        server = grpc.aio.server(
            interceptors=default_interceptors(self.auth, self.tracing),
            options=[
                ("grpc.max_receive_message_length", limit),
                ("grpc.max_send_message_length", limit),
                ("grpc.so_reuseport", 0),
                # A fixed 4 MiB receive window per stream: with BDP probing a client streaming an upload to a
                # server that waits on its blob store (S3 parts) grew it until gRPC held ~25 MiB more of the
                # upload (bench/object_storage.py); throughput on loopback was the same.
                ("grpc.http2.bdp_probe", 0),
                ("grpc.http2.lookahead_bytes", 4 * 1024 * 1024),
            ],
        )
        await self.blobs.clear_temp()
        served = SERVICE_NAMES if self.settings.role != "worker" else ()
        if served:
            self._add_api(server)
        health_pb2_grpc.add_HealthServicer_to_server(self.health, server)
        reflection.enable_server_reflection(
            (*served, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name, reflection.SERVICE_NAME),
            server,
        )
        self.port = server.add_insecure_port(self.settings.listen_address)
        if self.port == 0:
            raise RuntimeError(f"could not bind {self.settings.listen_address}")
        await server.start()
        self.server = server
        if self.settings.role != "worker":  # a worker serves no WatchJob: nothing to feed
            await self.listener.start()
        await self.engine.start()
        if self.settings.role != "api":
            self.webhook_deliverer.start()
        self.sweeper = asyncio.create_task(self._sweep(), name="vecflow-expiry-sweeper")
        if self.settings.warm_up and self.settings.role != "api":
            self.warmer = asyncio.create_task(self._warm_up(), name="vecflow-warm-up")
        for name in ("", *served):
            await self.health.set(name, health_pb2.HealthCheckResponse.SERVING)
        identify(self.settings.replica_id, self.settings.role)
        if self.settings.metrics_address:
            self.metrics = MetricsServer(self.settings.metrics_address)
        log.info(
            "serving",
            extra={
                "address": self.address,
                "role": self.settings.role,
                "data_dir": str(self.settings.data_dir.resolve()),
                "blob_url": self.settings.blob_url or None,
                "metrics_port": self.metrics.port if self.metrics else None,
            },
        )
        return self.port

    def _add_api(self, server: grpc.aio.Server) -> None:
        """Add the vecflow API's services (every role but `worker` serves them)."""
        job_service_pb2_grpc.add_JobServiceServicer_to_server(
            JobServicer(self.jobs, self.engine, self.watcher, self.idempotency, self.write_guard),
            server,
        )
        knowledge_base_service_pb2_grpc.add_KnowledgeBaseServiceServicer_to_server(
            KnowledgeBaseServicer(self.knowledge_bases, self.documents, self.idempotency), server
        )
        parse_service_pb2_grpc.add_ParseServiceServicer_to_server(
            ParseServicer(self.parse_results, self.documents, self.idempotency), server
        )
        vector_store_service_pb2_grpc.add_VectorStoreServiceServicer_to_server(
            VectorStoreServicer(self.vector_stores, self.indexing, self.idempotency), server
        )
        upsertion_task_service_pb2_grpc.add_UpsertionTaskServiceServicer_to_server(
            UpsertionTaskServicer(self.upsertion_tasks, self.idempotency), server
        )
        webhook_service_pb2_grpc.add_WebhookServiceServicer_to_server(
            WebhookServicer(self.webhooks, self.idempotency), server
        )

    @property
    def address(self) -> str:
        host = self.settings.listen_address.rpartition(":")[0]
        return f"{host}:{self.port}"

    async def stop(self, grace: float | None = None) -> None:
        """Flip health to NOT_SERVING, let in-flight calls finish within the grace period, then close."""
        grace = self.settings.shutdown_grace_seconds if grace is None else grace
        await self.health.enter_graceful_shutdown()
        if self.server is not None:
            await self.server.stop(grace)
            self.server = None
        await self.engine.stop(grace)
        await self.webhook_deliverer.stop()
        await self.listener.close()
        await self.events.close()
        await self.hub.close()
        await self.write_guard.close()
        for task in (self.sweeper, self.warmer):
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        await self.indexing.close()
        await self.parser.close()
        await self.embedder.close()
        if self.metrics is not None:
            self.metrics.close()
            self.metrics = None
        self.objects.close()
        await self.db.dispose()
        if self.tracing.enabled:
            await asyncio.to_thread(self.tracing.shutdown)  # exports what is left
        if self.sqlite_lock is not None:
            self.sqlite_lock.release()
        log.info("stopped")

    async def _warm_up(self) -> None:
        """Load the embedding model, open Milvus and start a parse worker in the background, so that the first
        job does not wait for them."""
        started = time.monotonic()
        try:
            await self.indexing.ready()
            await self.parser.warm()
        except Exception:  # the first job that needs them reports the error to its caller
            log.exception("warming up (embedding model, Milvus, a parse worker) failed")
            return
        log.info("warmed up", extra={"seconds": round(time.monotonic() - started, 2)})

    async def _sweep(self) -> None:
        """Expire vector stores and reclaim unreferenced contents, each round on one replica at a time (a replica
        whose round finds another's under way skips it; the next round finds what is due then)."""
        while True:
            await asyncio.sleep(self.settings.sweep_seconds)
            if self.settings.role != "api":  # opens Milvus, and so loads the model: not on an api replica
                try:
                    async with locks.exclusive(self.db, "vecflow.sweep.expiry") as mine:
                        expired = await self.indexing.expire_stores() if mine else 0
                    if expired:
                        log.info("expired vector stores", extra={"count": expired})
                except Exception:
                    log.exception("the expiry sweep failed")
            try:
                async with locks.exclusive(self.db, "vecflow.sweep.contents") as mine:
                    removed, freed = (
                        await reclaim_contents(self.db, self.blobs, self.settings.content_grace_seconds)
                        if mine
                        else (0, 0)
                    )
                if removed:
                    log.info("reclaimed file contents", extra={"contents": removed, "bytes": freed})
            except Exception:
                log.exception("reclaiming file contents failed")

    async def wait(self) -> None:
        if self.server is not None:
            await self.server.wait_for_termination()
