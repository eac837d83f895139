"""OpenTelemetry traces (vecflow.tracing): one trace from a caller's calls through the jobs they cause, on whichever
replica runs them; restarts; export over OTLP/gRPC to a real collector on loopback; nothing at all when off.

The SDK's InMemorySpanExporter is installed with vecflow.tracing.export_to, so every replica started in the test
exports to it (each with its own TracerProvider, whose resource names the replica)."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator, Sequence
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc
import pytest
from helpers.server import JOB_SETTINGS, Server, start_server
from opentelemetry import context as otel_context
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from test_pipeline import ANIMALS, upload
from vecflow import tracing
from vecflow.config import Settings, SettingsError
from vecflow.jobs.context import JobContext
from vecflow.logs import JsonFormatter
from vecflow.pipeline.embed.loading import DEFAULT_MODEL_NAME
from vecflow.storage import models as m
from vecflow_client.v1 import job_pb2
from vecflow_client.v1 import job_service_pb2 as job_pb
from vecflow_client.v1 import knowledge_base_service_pb2 as kb_pb2
from vecflow_client.v1 import vector_store_service_pb2 as vs_pb2

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    tracing.export_to(exporter)
    try:
        yield exporter
    finally:
        tracing.stop_exporting(exporter)


class JsonLines(logging.Handler):
    """The server's log lines, as vecflow.logs formats them, parsed back."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.setFormatter(JsonFormatter("test"))
        self.lines: list[dict[str, Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(self.format(record)))


@pytest.fixture
def rpc_log() -> Iterator[JsonLines]:
    logger = logging.getLogger("vecflow.rpc")
    handler, level = JsonLines(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def caller() -> tuple[int, int, str]:
    """A caller's span context: (trace id, span id, its W3C traceparent)."""
    trace_id, span_id = uuid.uuid4().int, uuid.uuid4().int >> 64
    return trace_id, span_id, f"00-{trace_id:032x}-{span_id:016x}-01"


def named(spans: Sequence[ReadableSpan], name: str) -> list[ReadableSpan]:
    return [s for s in spans if s.name == name]


def one(spans: Sequence[ReadableSpan], name: str) -> ReadableSpan:
    found = named(spans, name)
    assert len(found) == 1, (name, [s.name for s in spans])
    return found[0]


def replica(span: ReadableSpan) -> Any:
    return span.resource.attributes.get("service.instance.id")


def parent_id(span: ReadableSpan) -> int | None:
    return span.parent.span_id if span.parent is not None else None


async def finished(srv: Server, job_id: str, attempts: int = 1200) -> job_pb2.Job:
    """Poll GetJob (without trace context: these calls are traces of their own) until the job has ended."""
    stubs = srv.stubs()
    for _ in range(attempts):
        job = (await stubs.jobs.GetJob(job_pb.GetJobRequest(job_id=job_id))).job
        if job.status in (job_pb2.JOB_STATUS_SUCCEEDED, job_pb2.JOB_STATUS_FAILED, job_pb2.JOB_STATUS_CANCELLED):
            return job
        await asyncio.sleep(0.05)
    raise AssertionError(f"job {job_id} never ended")


async def test_an_upload_and_a_file_batch_through_two_replicas_form_one_trace(
    tmp_path: Path, postgres_url: str, spans: InMemorySpanExporter, rpc_log: JsonLines
) -> None:
    """The caller's traceparent on UploadFile and CreateFileBatch (through replica A, role api) continues in the
    parse and file-batch jobs that replica B runs: one trace, jobs children of the calls, steps of the jobs."""
    # One data directory (blobs) for both, as on a shared volume; only B opens Milvus.
    a = await start_server(
        tmp_path,
        postgres_url,
        role="api",
        replica_id="replica-a",
        embedding_endpoint="http://127.0.0.1:9",  # an api replica needs one; nothing here embeds on it
        embedding_model=DEFAULT_MODEL_NAME,
    )
    b: Server | None = None
    trace_id, caller_span, traceparent = caller()
    try:
        b = await start_server(tmp_path, postgres_url, key=a.key, replica_id="replica-b", job_poll_seconds=0.1)

        def through(srv: Server, request_id: str) -> Any:
            return srv.stubs(traceparent=traceparent, x_request_id=request_id)

        kb = (
            await through(a, "req-kb").kbs.CreateKnowledgeBase(kb_pb2.CreateKnowledgeBaseRequest(name="traced"))
        ).knowledge_base
        uploaded = await upload(through(a, "req-upload"), kb.id, "animals.txt", ANIMALS.encode())
        parse_job = await finished(a, uploaded.parse_job.id)
        assert parse_job.status == job_pb2.JOB_STATUS_SUCCEEDED, parse_job.error
        store = (
            await through(b, "req-store").stores.CreateVectorStore(vs_pb2.CreateVectorStoreRequest(name="traced"))
        ).vector_store  # on B: an api replica would ask its embedding server for the chunking limits
        batch = (
            await through(a, "req-batch").stores.CreateFileBatch(
                vs_pb2.CreateFileBatchRequest(vector_store_id=store.id, file_ids=[uploaded.file.id])
            )
        ).file_batch
        job = await finished(a, batch.job_id)
        assert job.status == job_pb2.JOB_STATUS_SUCCEEDED, job.error
        assert job.correlation_id == "req-batch"  # the request id of the call that caused it
        assert parse_job.correlation_id == "req-upload"
        assert {e.details["replica"] for e in [*job.history, *parse_job.history] if e.step == "started"} == {
            "replica-b"
        }
    finally:
        if b is not None:
            await b.close()
        await a.close()

    every = spans.get_finished_spans()
    traced = [s for s in every if s.context.trace_id == trace_id]
    upload_rpc = one(traced, "vecflow.v1.KnowledgeBaseService/UploadFile")
    batch_rpc = one(traced, "vecflow.v1.VectorStoreService/CreateFileBatch")
    parse_span, batch_span = one(traced, "job parse"), one(traced, "job file_batch")
    assert all(s.context.trace_id == trace_id for s in every if s.name.startswith("job "))  # no job strayed

    # Calls: SERVER spans on A continuing the caller's span, with their request ids and outcome.
    for rpc, request_id in ((upload_rpc, "req-upload"), (batch_rpc, "req-batch")):
        assert rpc.kind == SpanKind.SERVER and parent_id(rpc) == caller_span
        assert replica(rpc) == "replica-a" and rpc.resource.attributes["service.name"] == "vecflow"
        assert rpc.attributes is not None
        assert rpc.attributes["vecflow.request_id"] == request_id
        assert rpc.attributes["rpc.response.status_code"] == "OK"
        assert rpc.attributes["vecflow.project_id"] == a.key.project_id
    assert replica(one(traced, "vecflow.v1.VectorStoreService/CreateVectorStore")) == "replica-b"
    upload_events = [e for e in upload_rpc.events if e.name == "job submitted"]
    assert [e.attributes["vecflow.job.id"] for e in upload_events if e.attributes] == [uploaded.parse_job.id]

    # Jobs: on B, children of the calls that submitted them, with their correlation ids.
    for span, rpc, correlation in ((parse_span, upload_rpc, "req-upload"), (batch_span, batch_rpc, "req-batch")):
        assert span.kind == SpanKind.CONSUMER and parent_id(span) == rpc.context.span_id
        assert replica(span) == "replica-b"
        assert span.attributes is not None
        assert span.attributes["vecflow.job.correlation_id"] == correlation
        assert span.attributes["vecflow.job.status"] == "succeeded" and span.attributes["vecflow.job.attempt"] == 1
    assert parse_span.attributes is not None and parse_span.attributes["vecflow.job.id"] == uploaded.parse_job.id

    # Steps: children of their job, with the counts their history events have.
    (parse_step,) = [s for s in named(traced, "parse") if parent_id(s) == parse_span.context.span_id]
    assert parse_step.attributes is not None and parse_step.attributes["vecflow.step.bytes"] == len(ANIMALS.encode())
    for name in ("chunk", "embed", "insert"):
        steps = [s for s in named(traced, name) if parent_id(s) == batch_span.context.span_id]
        assert steps, name
        assert all(replica(s) == "replica-b" and s.status.status_code != StatusCode.ERROR for s in steps)
    embedded = [s.attributes["vecflow.step.chunks"] for s in named(traced, "embed") if s.attributes]
    assert sum(embedded) >= 1

    # Logs: the call's log line carries its trace and span.
    (line,) = [line for line in rpc_log.lines if line["method"] == "/vecflow.v1.KnowledgeBaseService/UploadFile"]
    assert line["trace_id"] == f"{trace_id:032x}" and line["span_id"] == f"{upload_rpc.context.span_id:016x}"
    assert line["request_id"] == "req-upload"


async def test_a_restarted_job_runs_in_the_restarting_calls_trace_linked_to_its_first(
    tmp_path: Path, sqlite_url: str, spans: InMemorySpanExporter
) -> None:
    srv = await start_server(tmp_path, sqlite_url, replica_id="replica-r", **JOB_SETTINGS)
    first_trace, first_span, first = caller()
    second_trace, second_span, second = caller()
    try:
        # Submitted in a span of the caller's (as a call would): the job row keeps its context.
        token = otel_context.attach(TraceContextTextMapPropagator().extract({"traceparent": first}))
        try:
            params = {"results": str(tmp_path / "r.db"), "items": 4, "batch": 2, "fail_at": "two"}
            job = await srv.app.engine.submit(srv.key.project_id, "test.steps", params=params, correlation_id="c-1")
        finally:
            otel_context.detach(token)
        async with srv.app.db.read_session() as s:
            row = await s.get(m.Job, job.id)
            assert row is not None and row.trace_context == {"traceparent": first}
        assert (await finished(srv, job.id)).status == job_pb2.JOB_STATUS_FAILED
        await srv.stubs(traceparent=second).jobs.RestartJob(job_pb.RestartJobRequest(job_id=job.id))
        assert (await finished(srv, job.id)).status == job_pb2.JOB_STATUS_SUCCEEDED
    finally:
        await srv.close()

    every = spans.get_finished_spans()
    failed, rerun = sorted(named(every, "job test.steps"), key=lambda s: s.start_time or 0)
    assert failed.context.trace_id == first_trace and parent_id(failed) == first_span
    assert failed.status.status_code == StatusCode.ERROR and failed.attributes is not None
    assert failed.attributes["vecflow.error_code"] == "TEST_FAILURE" and failed.attributes["vecflow.job.attempt"] == 1
    (failed_step,) = [s for s in named(every, "two") if s.context.trace_id == first_trace]
    assert failed_step.status.status_code == StatusCode.ERROR

    restart_rpc = one(every, "vecflow.v1.JobService/RestartJob")
    assert restart_rpc.context.trace_id == second_trace and parent_id(restart_rpc) == second_span
    assert rerun.context.trace_id == second_trace and parent_id(rerun) == restart_rpc.context.span_id
    assert [(link.context.trace_id, link.context.span_id) for link in rerun.links] == [(first_trace, first_span)]
    assert rerun.attributes is not None and rerun.attributes["vecflow.job.attempt"] == 2
    assert rerun.attributes["vecflow.job.correlation_id"] == "c-1"
    assert {s.name for s in every if parent_id(s) == rerun.context.span_id} == {"two", "three"}  # one: done before


async def test_a_job_submitted_by_a_job_continues_its_trace_and_correlation(
    tmp_path: Path, sqlite_url: str, spans: InMemorySpanExporter
) -> None:
    srv = await start_server(tmp_path, sqlite_url, **JOB_SETTINGS)
    trace_id, _, traceparent = caller()
    children: list[str] = []

    async def spawn(ctx: JobContext) -> dict[str, Any]:
        async with ctx.step("spawn"):
            params = {"results": str(tmp_path / "r.db"), "items": 2, "batch": 2, "steps": ["one"]}
            children.append((await srv.app.engine.submit(ctx.project_id, "test.steps", params=params)).id)
        return {}

    srv.app.engine.register("test.spawn", spawn)
    try:
        token = otel_context.attach(TraceContextTextMapPropagator().extract({"traceparent": traceparent}))
        try:
            parent = await srv.app.engine.submit(srv.key.project_id, "test.spawn", correlation_id="c-parent")
        finally:
            otel_context.detach(token)
        assert (await finished(srv, parent.id)).status == job_pb2.JOB_STATUS_SUCCEEDED
        child = await finished(srv, children[0])
        assert child.status == job_pb2.JOB_STATUS_SUCCEEDED and child.correlation_id == "c-parent"
    finally:
        await srv.close()

    every = spans.get_finished_spans()
    step, child_span = one(every, "spawn"), one(every, "job test.steps")
    assert step.context.trace_id == child_span.context.trace_id == trace_id
    assert (
        parent_id(child_span) == step.context.span_id
        and parent_id(step) == one(every, "job test.spawn").context.span_id
    )
    assert [e.name for e in step.events] == ["job submitted"]


class Collector(trace_service_pb2_grpc.TraceServiceServicer):
    """An OTLP/gRPC trace receiver: what it was sent, and with which metadata."""

    def __init__(self) -> None:
        self.requests: list[trace_service_pb2.ExportTraceServiceRequest] = []
        self.metadata: list[dict[str, str]] = []
        self.received = threading.Event()

    def Export(self, request: Any, context: Any) -> trace_service_pb2.ExportTraceServiceResponse:
        self.requests.append(request)
        self.metadata.append(dict(context.invocation_metadata()))
        self.received.set()
        return trace_service_pb2.ExportTraceServiceResponse()


async def test_spans_are_exported_over_otlp_with_the_standard_variables(
    tmp_path: Path, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    collector = Collector()
    receiver = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(collector, receiver)
    port = receiver.add_insecure_port("127.0.0.1:0")
    receiver.start()
    monkeypatch.setenv("OTEL_SERVICE_NAME", "vecflow-otlp-test")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "x-collector-key=sesame")
    settings = Settings.from_env(env={"OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{port}"})
    trace_id, _, traceparent = caller()
    try:
        srv = await start_server(tmp_path, sqlite_url, replica_id="replica-o", otlp_endpoint=settings.otlp_endpoint)
        try:
            await srv.stubs(traceparent=traceparent).kbs.ListKnowledgeBases(kb_pb2.ListKnowledgeBasesRequest())
        finally:
            await srv.close()  # exports what is left
        assert await asyncio.to_thread(collector.received.wait, 10)
    finally:
        receiver.stop(0)

    exported = [
        (resource_spans.resource, span)
        for request in collector.requests
        for resource_spans in request.resource_spans
        for scope_spans in resource_spans.scope_spans
        for span in scope_spans.spans
    ]
    (resource, span) = next((r, s) for r, s in exported if s.name.endswith("/ListKnowledgeBases"))
    assert span.trace_id == trace_id.to_bytes(16, "big")
    attributes = {a.key: a.value.string_value for a in resource.attributes}
    assert attributes["service.name"] == "vecflow-otlp-test" and attributes["service.instance.id"] == "replica-o"
    assert all(md.get("x-collector-key") == "sesame" for md in collector.metadata)


def test_the_standard_variables_decide_whether_and_where_to_export() -> None:
    def endpoint(**env: str) -> str:
        return Settings.from_env(env=env).otlp_endpoint

    assert endpoint() == ""
    assert endpoint(OTEL_EXPORTER_OTLP_ENDPOINT="http://collector:4317") == "http://collector:4317"
    assert endpoint(
        OTEL_EXPORTER_OTLP_ENDPOINT="http://c:4317", OTEL_EXPORTER_OTLP_TRACES_ENDPOINT="http://t:4317"
    ) == ("http://t:4317")
    assert endpoint(OTEL_EXPORTER_OTLP_ENDPOINT="http://c:4317", OTEL_SDK_DISABLED="true") == ""
    assert endpoint(OTEL_EXPORTER_OTLP_ENDPOINT="http://c:4317", OTEL_TRACES_EXPORTER="none") == ""
    with pytest.raises(SettingsError, match="OTLP over gRPC only"):
        endpoint(OTEL_EXPORTER_OTLP_ENDPOINT="http://c:4318", OTEL_EXPORTER_OTLP_PROTOCOL="http/protobuf")


OFF_SCRIPT = """
import asyncio, json, sys, tempfile
from pathlib import Path
sys.path.insert(0, "tests")
from helpers.server import JOB_SETTINGS, start_server
from vecflow import tracing
from vecflow_client.v1 import job_pb2, job_service_pb2, knowledge_base_service_pb2

async def main():
    tmp = Path(tempfile.mkdtemp())
    srv = await start_server(tmp, f"sqlite+aiosqlite:///{tmp / 'vecflow.db'}", **JOB_SETTINGS)
    try:
        stubs = srv.stubs(traceparent=sys.argv[1])
        await stubs.kbs.ListKnowledgeBases(knowledge_base_service_pb2.ListKnowledgeBasesRequest())
        job = await srv.app.engine.submit(srv.key.project_id, "test.steps", params={"results": str(tmp / "r.db")})
        while (await stubs.jobs.GetJob(job_service_pb2.GetJobRequest(job_id=job.id))).job.status != (
            job_pb2.JOB_STATUS_SUCCEEDED
        ):
            await asyncio.sleep(0.05)
        off = srv.app.tracing is tracing.OFF
    finally:
        await srv.close()
    print(json.dumps({"off": off, "modules": sorted(m for m in sys.modules if m.startswith("opentelemetry"))}))

asyncio.run(main())
"""


def test_with_tracing_off_no_span_is_made_and_no_opentelemetry_module_is_imported() -> None:
    """A server without an endpoint serves a call (with a traceparent) and runs a job without importing any
    OpenTelemetry module: it cannot have made a span."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    result = subprocess.run(
        [sys.executable, "-c", OFF_SCRIPT, caller()[2]],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout.strip().splitlines()[-1]) == {"off": True, "modules": []}
