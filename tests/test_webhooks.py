"""Webhooks against a real receiver on loopback: registration rules and tenancy, signed deliveries of real job
and resource events (verified the Standard Webhooks way), retries with backoff, and a server killed with -9
between the outbox commit and the delivery that still delivers, each (webhook-id, attempt) at most once."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import signal
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

import grpc
import pytest
from helpers.rpc import error_details
from helpers.server import JOB_SETTINGS, Server, start_server
from test_cli import BOOTSTRAP_KEY, free_port
from test_crash_recovery import server_env
from test_pipeline import upload
from test_replicas import KNOWN_KEY, serve, submit_from_outside, wait_up
from vecflow.storage import models as m
from vecflow_client.v1 import job_pb2, job_service_pb2
from vecflow_client.v1 import knowledge_base_service_pb2 as kb_pb2
from vecflow_client.v1 import upsertion_task_service_pb2 as task_pb2
from vecflow_client.v1 import vector_store_service_pb2 as vs_pb2
from vecflow_client.v1 import webhook_service_pb2 as pb
from vecflow_client.v1 import webhook_service_pb2_grpc as rpc

T = TypeVar("T")
FAST = {  # loopback allowed (http too), quick polls and retries
    "fetch_allow_hosts": ("127.0.0.1",),
    "webhook_poll_seconds": 0.05,
    "webhook_retry_base_seconds": 0.05,
    "webhook_timeout_seconds": 2.0,
}
SUCCEEDED, FAILED = pb.WEBHOOK_DELIVERY_STATUS_SUCCEEDED, pb.WEBHOOK_DELIVERY_STATUS_FAILED


# A receiver on loopback --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def key(self) -> tuple[str, int]:
        return self.headers["webhook-id"], int(self.headers["webhook-attempt"])


class Receiver:
    """An HTTP server on 127.0.0.1 that records every POST and answers each path from its plan (a list of
    statuses, then 200): None holds the request and never answers (until `release`)."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.plans: dict[str, list[int | None]] = {}
        self.released = threading.Event()
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                with receiver.lock:
                    receiver.received.append(Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                    plan = receiver.plans.get(self.path, [])
                    answer = plan.pop(0) if plan else 200
                if answer is None:
                    receiver.released.wait(30)
                    self.close_connection = True
                    return
                self.send_response(answer)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def at(self, path: str) -> list[Received]:
        with self.lock:
            return [r for r in self.received if r.path == path]

    def close(self) -> None:
        self.released.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Any:
    r = Receiver()
    yield r
    r.close()


def verified(secret: str, request: Received) -> dict[str, Any]:
    """The event, once its signature checks out per the Standard Webhooks spec."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    msg_id, timestamp = request.headers["webhook-id"], request.headers["webhook-timestamp"]
    signed = f"{msg_id}.{timestamp}.{request.body.decode()}".encode()
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    given = [s.split(",", 1)[1] for s in request.headers["webhook-signature"].split(" ") if s.startswith("v1,")]
    assert any(hmac.compare_digest(expected, s) for s in given), "the signature does not verify"
    assert abs(time.time() - int(timestamp)) < 300
    assert request.headers["content-type"] == "application/json"
    event: dict[str, Any] = json.loads(request.body)
    return event


async def until(check: Callable[[], Awaitable[T]], what: str, timeout: float = 30) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"never {what}")
        await asyncio.sleep(0.05)


def hooks(server: Server, key: str | None = None) -> rpc.WebhookServiceStub:
    return rpc.WebhookServiceStub(server.channel((("x-api-key", key or server.key.secret),)))


async def deliveries(stub: rpc.WebhookServiceStub, webhook_id: str) -> list[pb.WebhookDelivery]:
    reply = await stub.ListWebhookDeliveries(pb.ListWebhookDeliveriesRequest(webhook_id=webhook_id))
    return list(reply.deliveries)


async def ended(stub: rpc.WebhookServiceStub, webhook_id: str, count: int = 1) -> list[pb.WebhookDelivery]:
    """The webhook's deliveries once `count` of them have ended."""

    async def check() -> list[pb.WebhookDelivery]:
        found = await deliveries(stub, webhook_id)
        return found if sum(d.status in (SUCCEEDED, FAILED) for d in found) >= count else []

    return await until(check, f"ended {count} deliveries of {webhook_id}")


async def job_done(server: Server, job_id: str) -> job_pb2.Job:
    stubs = server.stubs()

    async def check() -> job_pb2.Job | None:
        job = (await stubs.jobs.GetJob(job_service_pb2.GetJobRequest(job_id=job_id))).job
        done = job.status in (job_pb2.JOB_STATUS_SUCCEEDED, job_pb2.JOB_STATUS_FAILED, job_pb2.JOB_STATUS_CANCELLED)
        return job if done else None

    return await until(check, f"finished job {job_id}", timeout=120)


@pytest.fixture
async def webhook_server(tmp_path: Path, sqlite_url: str) -> AsyncIterator[Server]:
    srv = await start_server(tmp_path, sqlite_url, webhook_max_per_project=3, **FAST, **JOB_SETTINGS)
    try:
        yield srv
    finally:
        await srv.close()


# Registration --------------------------------------------------------------------------------------------------


async def test_create_get_list_delete_with_validation_limits_and_tenancy(webhook_server: Server) -> None:
    stub = hooks(webhook_server)
    created = await stub.CreateWebhook(
        pb.CreateWebhookRequest(url="http://127.0.0.1:9/a", events=["job.failed", "job.succeeded", "job.failed"])
    )
    hook = created.webhook
    assert hook.id.startswith("wh_") and hook.object == "webhook" and hook.project_id
    assert list(hook.events) == ["job.failed", "job.succeeded"]  # duplicates dropped
    assert created.secret.startswith("whsec_") and len(base64.b64decode(created.secret[6:])) == 32
    assert (await stub.GetWebhook(pb.GetWebhookRequest(webhook_id=hook.id))).webhook == hook
    given = "whsec_" + base64.b64encode(b"k" * 24).decode()
    second = await stub.CreateWebhook(
        pb.CreateWebhookRequest(url="https://8.8.8.8/b", events=["file.parsed"], secret=given)
    )
    assert second.secret == given
    page = await stub.ListWebhooks(pb.ListWebhooksRequest(page_size=1))
    assert [w.id for w in page.webhooks] == [second.webhook.id] and page.next_page_token
    rest = await stub.ListWebhooks(pb.ListWebhooksRequest(page_size=1, page_token=page.next_page_token))
    assert [w.id for w in rest.webhooks] == [hook.id] and not rest.next_page_token

    async def refused(request: pb.CreateWebhookRequest) -> tuple[grpc.StatusCode, dict[str, Any]]:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await stub.CreateWebhook(request)
        return err.value.code(), error_details(err.value)

    code, info = await refused(pb.CreateWebhookRequest(url="https://8.8.8.8/", events=["job.done", "job.failed", "x"]))
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert [field for field, _ in info["violations"]] == ["events[0]", "events[2]"]
    assert all("job.succeeded" in text and "upsertion_task.done" in text for _, text in info["violations"])
    bad = {
        "no events": (pb.CreateWebhookRequest(url="https://8.8.8.8/"), "INVALID_ARGUMENT"),
        "no url": (pb.CreateWebhookRequest(events=["job.failed"]), "INVALID_ARGUMENT"),
        "http, not allowed": (pb.CreateWebhookRequest(url="http://example.com/", events=["job.failed"]), "INVALID_URL"),
        "private": (pb.CreateWebhookRequest(url="https://10.1.2.3/", events=["job.failed"]), "URL_NOT_ALLOWED"),
        "loopback, not allowed": (
            pb.CreateWebhookRequest(url="https://127.0.0.2/", events=["job.failed"]),
            "URL_NOT_ALLOWED",
        ),
        "credentials": (pb.CreateWebhookRequest(url="https://u:p@8.8.8.8/", events=["job.failed"]), "INVALID_URL"),
        "long": (
            pb.CreateWebhookRequest(url="https://8.8.8.8/" + "a" * 2100, events=["job.failed"]),
            "INVALID_ARGUMENT",
        ),
        "secret": (
            pb.CreateWebhookRequest(url="https://8.8.8.8/", events=["job.failed"], secret="whsec_c2hvcnQ="),
            "INVALID_ARGUMENT",
        ),
    }
    for what, (request, reason) in bad.items():
        code, info = await refused(request)
        assert (code, info["reason"]) == (grpc.StatusCode.INVALID_ARGUMENT, reason), what
    await stub.CreateWebhook(pb.CreateWebhookRequest(url="https://8.8.8.8/c", events=["job.failed"]))
    code, info = await refused(pb.CreateWebhookRequest(url="https://8.8.8.8/d", events=["job.failed"]))
    assert (code, info["reason"], info["metadata"]["limit"]) == (
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        "TOO_MANY_WEBHOOKS",
        "3",
    )

    other = hooks(webhook_server, (await webhook_server.tenant()).secret)
    assert not (await other.ListWebhooks(pb.ListWebhooksRequest())).webhooks
    for call in (
        other.GetWebhook(pb.GetWebhookRequest(webhook_id=hook.id)),
        other.DeleteWebhook(pb.DeleteWebhookRequest(webhook_id=hook.id)),
        other.ListWebhookDeliveries(pb.ListWebhookDeliveriesRequest(webhook_id=hook.id)),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await call
        assert err.value.code() == grpc.StatusCode.NOT_FOUND
        assert error_details(err.value)["reason"] == "WEBHOOK_NOT_FOUND"
    await stub.DeleteWebhook(pb.DeleteWebhookRequest(webhook_id=hook.id))
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.GetWebhook(pb.GetWebhookRequest(webhook_id=hook.id))
    assert err.value.code() == grpc.StatusCode.NOT_FOUND


# Deliveries ------------------------------------------------------------------------------------------------------


async def test_real_ingestion_events_arrive_signed(webhook_server: Server, receiver: Receiver) -> None:
    """A parse job's end, its file's parse, a file batch and an upsertion task: each event once, signed."""
    stub = hooks(webhook_server)
    everything = ["job.succeeded", "file.parsed", "file_batch.completed", "upsertion_task.done"]
    created = await stub.CreateWebhook(pb.CreateWebhookRequest(url=receiver.url("/all"), events=everything))
    only_failures = await stub.CreateWebhook(
        pb.CreateWebhookRequest(url=receiver.url("/failed"), events=["job.failed"])
    )
    stubs = webhook_server.stubs()
    kb = (await stubs.kbs.CreateKnowledgeBase(kb_pb2.CreateKnowledgeBaseRequest(name="hooks"))).knowledge_base
    text = "An octopus has three hearts. Its blood is blue, and it tastes with its arms."
    reply = await upload(stubs, kb.id, "octopus.txt", text.encode())
    parse_job = await job_done(webhook_server, reply.parse_job.id)
    assert parse_job.status == job_pb2.JOB_STATUS_SUCCEEDED
    store = (await stubs.stores.CreateVectorStore(vs_pb2.CreateVectorStoreRequest(name="hooks"))).vector_store
    batch = (
        await stubs.stores.CreateFileBatch(
            vs_pb2.CreateFileBatchRequest(vector_store_id=store.id, file_ids=[reply.file.id])
        )
    ).file_batch
    item = task_pb2.UpsertionItem(object_id="o1")
    item.payload.update({"text": "an octopus"})
    task = (await stubs.tasks.CreateUpsertionTask(task_pb2.CreateUpsertionTaskRequest(items=[item]))).upsertion_task
    # parse job, file, batch job, batch, upsert job, task
    found = await ended(stub, created.webhook.id, count=6)
    assert {d.status for d in found} == {SUCCEEDED}
    assert all((d.attempts, d.last_response_code) == (1, 200) for d in found)
    events = {}
    for request in receiver.at("/all"):
        event = verified(created.secret, request)
        assert request.headers["webhook-attempt"] == "1"
        events.setdefault(event["type"], []).append(event["data"])
    assert sorted(events) == sorted(everything) and len(receiver.at("/all")) == 6
    jobs = {e["id"]: e for e in events["job.succeeded"]}
    assert jobs[parse_job.id]["operation"] == "parse" and jobs[parse_job.id]["source_id"] == reply.file.id
    assert jobs[parse_job.id]["result"]["parse_result_id"]
    assert {e["operation"] for e in jobs.values()} == {"parse", "file_batch", "upsert"}
    (parsed,) = events["file.parsed"]
    assert (parsed["id"], parsed["parse_job_id"]) == (reply.file.id, parse_job.id) and parsed["parse_result_id"]
    (completed,) = events["file_batch.completed"]
    assert (completed["id"], completed["vector_store_id"], completed["status"]) == (batch.id, store.id, "completed")
    (done,) = events["upsertion_task.done"]
    assert (done["id"], done["status"]) == (task.id, "done")
    # What ListWebhookDeliveries shows is what was sent.
    by_id = {d.id: d for d in found}
    for request in receiver.at("/all"):
        assert by_id[request.headers["webhook-id"]].payload == request.body.decode()
    assert not receiver.at("/failed") and not await deliveries(stub, only_failures.webhook.id)


async def test_retries_with_backoff_then_delivers_and_a_refusal_fails_at_once(
    webhook_server: Server, receiver: Receiver
) -> None:
    stub = hooks(webhook_server)
    flaky = await stub.CreateWebhook(pb.CreateWebhookRequest(url=receiver.url("/flaky"), events=["job.succeeded"]))
    gone = await stub.CreateWebhook(pb.CreateWebhookRequest(url=receiver.url("/gone"), events=["job.succeeded"]))
    receiver.plans["/flaky"] = [500, 503]
    receiver.plans["/gone"] = [410]
    job = await webhook_server.app.engine.submit(
        webhook_server.key.project_id,
        "test.steps",
        params={"items": 1, "results": str(Path(webhook_server.app.settings.data_dir) / "r.db")},
    )
    assert (await job_done(webhook_server, job.id)).status == job_pb2.JOB_STATUS_SUCCEEDED
    (delivered,) = await ended(stub, flaky.webhook.id)
    assert (delivered.status, delivered.attempts, delivered.last_response_code) == (SUCCEEDED, 3, 200)
    assert not delivered.HasField("last_error") and not delivered.HasField("next_attempt_at")
    attempts = receiver.at("/flaky")
    assert [r.key for r in attempts] == [(delivered.id, 1), (delivered.id, 2), (delivered.id, 3)]
    bodies = {r.body for r in attempts}
    assert len(bodies) == 1  # the same event every time, each attempt signed afresh
    assert all(verified(flaky.secret, r)["data"]["id"] == job.id for r in attempts)
    (refused,) = await ended(stub, gone.webhook.id)
    assert (refused.status, refused.attempts, refused.last_response_code) == (FAILED, 1, 410)
    assert refused.last_error.code == "HTTP_ERROR" and "410" in refused.last_error.message
    listed = await stub.ListWebhookDeliveries(
        pb.ListWebhookDeliveriesRequest(webhook_id=gone.webhook.id, status=pb.WEBHOOK_DELIVERY_STATUS_PENDING)
    )
    assert not listed.deliveries
    await stub.DeleteWebhook(pb.DeleteWebhookRequest(webhook_id=gone.webhook.id))  # its deliveries go with it
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.ListWebhookDeliveries(pb.ListWebhookDeliveriesRequest(webhook_id=gone.webhook.id))
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    async with webhook_server.app.db.read_session() as s:
        assert await s.get(m.WebhookDelivery, refused.id) is None


async def test_kill_9_between_the_outbox_commit_and_the_delivery_still_delivers(
    tmp_path: Path, receiver: Receiver
) -> None:
    """The server dies with an attempt in flight (the receiver holds it): restarted, it makes the next attempt
    once the lost one's lease is over; the receiver sees each (webhook-id, attempt) once, and one event."""
    data = tmp_path / "data"
    address = f"127.0.0.1:{free_port()}"
    env = server_env(
        data,
        address,
        plugins=True,
        VECFLOW_FETCH_ALLOW_HOSTS="127.0.0.1",
        VECFLOW_WEBHOOK_TIMEOUT_SECONDS="1",  # a lost attempt's lease: 2 s
        VECFLOW_WEBHOOK_RETRY_BASE_SECONDS="10",  # should the held attempt time out first, no retry before the kill
        VECFLOW_WEBHOOK_POLL_SECONDS="0.05",
    )
    url = f"sqlite+aiosqlite:///{data / 'vecflow.db'}"
    receiver.plans["/hook"] = [None]  # the first attempt is held until the server is gone
    proc = serve(env)
    restarted: Server | None = None
    try:
        await wait_up(proc, address)
        async with grpc.aio.insecure_channel(address) as channel:
            stub = rpc.WebhookServiceStub(channel)
            created = await stub.CreateWebhook(
                pb.CreateWebhookRequest(url=receiver.url("/hook"), events=["job.succeeded"]),
                metadata=(("x-api-key", BOOTSTRAP_KEY),),
            )
        await submit_from_outside(url, tmp_path / "results.db", items=2, batch=1)

        async def in_flight() -> bool:
            return bool(receiver.at("/hook"))

        await until(in_flight, "received the first attempt")
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=10)
        receiver.released.set()
        with sqlite3.connect(data / "vecflow.db") as conn:  # the claim was committed before the POST
            rows = conn.execute("SELECT status, attempts FROM webhook_deliveries").fetchall()
        assert rows == [("pending", 1)]
        restarted = await start_server(tmp_path, url, key=KNOWN_KEY, **FAST)
        (delivered,) = await ended(hooks(restarted), created.webhook.id)
    finally:
        receiver.released.set()
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=10)
        if restarted is not None:
            await restarted.close()
    assert (delivered.status, delivered.attempts, delivered.last_response_code) == (SUCCEEDED, 2, 200)
    seen = [r.key for r in receiver.at("/hook")]
    assert seen == [(delivered.id, 1), (delivered.id, 2)]  # each attempt once, one webhook-id
    assert verified(created.secret, receiver.at("/hook")[1])["type"] == "job.succeeded"


async def test_replicas_on_postgresql_never_send_one_attempt_twice(
    tmp_path: Path, postgres_url: str, receiver: Receiver
) -> None:
    """Two replicas on one PostgreSQL database claim with SKIP LOCKED: every event is delivered by one of them,
    on its first attempt, once."""
    a = await start_server(tmp_path / "a", postgres_url, replica_id="replica-a", **FAST, **JOB_SETTINGS)
    b = await start_server(tmp_path / "b", postgres_url, key=a.key, replica_id="replica-b", **FAST, **JOB_SETTINGS)
    try:
        created = await hooks(a).CreateWebhook(
            pb.CreateWebhookRequest(url=receiver.url("/r"), events=["job.succeeded"])
        )
        results = str(tmp_path / "results.db")
        jobs = [
            await (a if i % 2 else b).app.engine.submit(
                a.key.project_id, "test.steps", params={"items": 1, "results": results}
            )
            for i in range(24)
        ]
        found = await ended(hooks(b), created.webhook.id, count=len(jobs))
    finally:
        await b.close()
        await a.close()
    assert len(found) == len(jobs) and {(d.status, d.attempts) for d in found} == {(SUCCEEDED, 1)}
    seen = [r.key for r in receiver.at("/r")]
    assert sorted(seen) == sorted((d.id, 1) for d in found)  # no attempt twice
    assert {verified(created.secret, r)["data"]["id"] for r in receiver.at("/r")} == {j.id for j in jobs}
