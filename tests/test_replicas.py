"""Several replicas: who did what (replica ids in job history, logs and metrics), roles (api, worker), starting
together on an empty PostgreSQL database, request ids and revocations across replicas, SQLite kept to one server."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import subprocess
import sys
import urllib.request
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from helpers.embedding_server import model_endpoint
from helpers.server import JOB_SETTINGS, Server, start_server
from sqlalchemy import text
from test_cli import BOOTSTRAP_KEY, free_port, wait_serving
from test_crash_recovery import server_env
from vecflow.config import Settings, SettingsError
from vecflow.jobs.engine import JobEngine
from vecflow.jobs.eventlog import EventLog
from vecflow.jobs.hub import WatchHub
from vecflow.logs import JsonFormatter
from vecflow.services import idempotency as idem
from vecflow.services.auth import AuthService, IssuedKey
from vecflow.storage import idempotency as idem_store
from vecflow.storage import models as m
from vecflow.storage.db import Database
from vecflow.storage.locks import SingleNodeDatabase
from vecflow_client.v1 import job_pb2
from vecflow_client.v1 import job_service_pb2 as job_pb
from vecflow_client.v1 import job_service_pb2_grpc as job_grpc
from vecflow_client.v1 import knowledge_base_service_pb2 as kb_pb2

KNOWN_KEY = IssuedKey("", "", "", BOOTSTRAP_KEY)  # the key VECFLOW_BOOTSTRAP_API_KEY made; only its secret is used


def serve(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "vecflow", "serve", *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


async def wait_up(proc: subprocess.Popen[str], address: str) -> None:
    """Wait until the server subprocess serves; fail with its stderr if it exits first."""
    waiting = asyncio.create_task(wait_serving(address))
    while not waiting.done():
        if proc.poll() is not None:
            waiting.cancel()
            raise AssertionError(f"the server exited with {proc.returncode}: {proc.communicate()[1][-3000:]}")
        await asyncio.sleep(0.1)
    await waiting


def json_lines(stderr: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]


async def get_job(address: str, job_id: str, key: str = BOOTSTRAP_KEY) -> job_pb2.Job:
    async with grpc.aio.insecure_channel(address) as channel:
        reply = await job_grpc.JobServiceStub(channel).GetJob(
            job_pb.GetJobRequest(job_id=job_id), metadata=(("x-api-key", key),), timeout=10
        )
        return reply.job


async def submit_from_outside(database_url: str, results: Path, **params: Any) -> str:
    """Submit a test.steps job through the engine of this process, as another replica would."""
    db = Database(database_url)
    try:
        project = (await AuthService(db).authenticate(BOOTSTRAP_KEY)).project_id
        engine = JobEngine(EventLog(db, WatchHub()), replica_id="submitter")
        return (await engine.submit(project, "test.steps", params={"results": str(results), **params})).id
    finally:
        await db.dispose()


async def until(check: Any, what: str, attempts: int = 600, pause: float = 0.05) -> Any:
    """Poll `check()` until it returns something truthy (bounded)."""
    for _ in range(attempts):
        value = await check()
        if value:
            return value
        await asyncio.sleep(pause)
    raise AssertionError(f"never {what}")


def replicas_of(history: list[job_pb2.JobHistoryEvent], step: str) -> list[str]:
    return [e.details["replica"] for e in history if e.step == step]


# Who did what ------------------------------------------------------------------------------------------------


async def test_claims_and_the_requeue_after_a_crash_name_their_replicas(tmp_path: Path) -> None:
    """Replica A claims a job and is killed; replica B requeues it when the lease expires, and runs it."""
    data = tmp_path / "data"
    address = f"127.0.0.1:{free_port()}"
    env = server_env(data, address, plugins=True, VECFLOW_JOB_LEASE_SECONDS="1", VECFLOW_REPLICA_ID="replica-a")
    proc = serve(env)
    url = f"sqlite+aiosqlite:///{data / 'vecflow.db'}"
    b: Server | None = None
    try:
        await wait_up(proc, address)
        job_id = await submit_from_outside(url, tmp_path / "results.db", items=6, batch=2, delay=0.2)

        async def running() -> bool:
            return (await get_job(address, job_id)).status == job_pb2.JOB_STATUS_RUNNING

        await until(running, "claimed by replica A")
        proc.send_signal(signal.SIGKILL)
        _, a_log = proc.communicate(timeout=10)
        b = await start_server(tmp_path, url, key=KNOWN_KEY, replica_id="replica-b", **JOB_SETTINGS)

        async def succeeded() -> job_pb2.Job | None:
            job = await get_job(b.address, job_id)
            return job if job.status == job_pb2.JOB_STATUS_SUCCEEDED else None

        job = await until(succeeded, "finished by replica B", attempts=400)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=10)
        if b is not None:
            await b.close()
    history = list(job.history)
    assert replicas_of(history, "started") == ["replica-a", "replica-b"]
    (requeue,) = [e for e in history if e.step == "requeued"]
    assert requeue.details["replica"] == "replica-b"  # the reaper that requeued it, not the one that crashed
    assert "replica-a:" in requeue.details["reason"]  # whose lease expired
    lines = json_lines(a_log)
    assert lines and all(line["replica"] == "replica-a" for line in lines)  # every log line of replica A


async def test_restart_events_name_the_replica_and_metrics_say_which_replica_they_are(
    tmp_path: Path, sqlite_url: str
) -> None:
    srv = await start_server(
        tmp_path, sqlite_url, replica_id="replica-m", metrics_address="127.0.0.1:0", **JOB_SETTINGS
    )
    try:
        job = await srv.app.engine.submit(
            srv.key.project_id,
            "test.steps",
            params={"results": str(tmp_path / "r.db"), "items": 4, "batch": 2, "fail_at": "two"},
        )

        async def failed() -> bool:
            return (await get_job(srv.address, job.id, srv.key.secret)).status == job_pb2.JOB_STATUS_FAILED

        await until(failed, "failed")
        await srv.app.engine.restart(srv.key.project_id, job.id)
        history = list((await get_job(srv.address, job.id, srv.key.secret)).history)
        assert replicas_of(history, "restarted") == ["replica-m"]
        assert replicas_of(history, "started")[0] == "replica-m"

        assert srv.app.metrics is not None
        url = f"http://127.0.0.1:{srv.app.metrics.port}/metrics"
        body = await asyncio.to_thread(lambda: urllib.request.urlopen(url, timeout=10).read().decode())
        (info,) = [line for line in body.splitlines() if line.startswith("vecflow_replica_info{")]
        assert 'replica="replica-m"' in info and 'role="all"' in info and info.endswith(" 1.0")
    finally:
        await srv.close()

    record = logging.LogRecord("vecflow.test", logging.INFO, __file__, 1, "hello", None, None)
    assert json.loads(JsonFormatter("replica-m").format(record))["replica"] == "replica-m"


# Roles -------------------------------------------------------------------------------------------------------


async def test_an_api_replica_runs_no_job_and_loads_no_model_and_a_worker_serves_only_health(
    tmp_path: Path, postgres_url: str
) -> None:
    address = f"127.0.0.1:{free_port()}"
    with model_endpoint() as embeddings:
        env = server_env(
            tmp_path / "api",
            address,
            plugins=True,
            VECFLOW_DATABASE_URL=postgres_url,
            VECFLOW_REPLICA_ID="replica-api",
            VECFLOW_WARM_UP="true",  # an api replica warms nothing up all the same
            VECFLOW_EMBEDDING_ENDPOINT=embeddings.url,  # what it would embed search queries with
            VECFLOW_EMBEDDING_MODEL=embeddings.model,
        )
        api = serve(env, "--role", "api")
        worker: Server | None = None
        try:
            await wait_up(api, address)
            job_id = await submit_from_outside(postgres_url, tmp_path / "results.db", items=4, batch=2)
            for _ in range(15):  # the api replica's engine polls every 0.1 s, and claims nothing
                assert (await get_job(address, job_id)).status == job_pb2.JOB_STATUS_PENDING
                await asyncio.sleep(0.1)

            worker = await start_server(
                tmp_path / "worker",
                postgres_url,
                key=KNOWN_KEY,
                role="worker",
                replica_id="replica-worker",
                **JOB_SETTINGS,
            )

            async def succeeded() -> job_pb2.Job | None:
                job = await get_job(address, job_id)  # read through the api replica
                return job if job.status == job_pb2.JOB_STATUS_SUCCEEDED else None

            job = await until(succeeded, "run by the worker")
            assert replicas_of(list(job.history), "started") == ["replica-worker"]

            async with grpc.aio.insecure_channel(worker.address) as channel:
                health = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())
                assert health.status == health_pb2.HealthCheckResponse.SERVING
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await worker.stubs().kbs.ListKnowledgeBases(kb_pb2.ListKnowledgeBasesRequest())
            assert err.value.code() == grpc.StatusCode.UNIMPLEMENTED
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await worker.stubs().jobs.GetJob(job_pb.GetJobRequest(job_id=job_id))
            assert err.value.code() == grpc.StatusCode.UNIMPLEMENTED
        finally:
            if worker is not None:
                await worker.close()
            if api.poll() is None:
                api.send_signal(signal.SIGTERM)
            _, api_log = api.communicate(timeout=30)
        assert api.returncode == 0, api_log
        lines = json_lines(api_log)
        serving = next(line for line in lines if line["msg"] == "serving")
        assert serving["role"] == "api" and serving["replica"] == "replica-api"
        messages = [line["msg"] for line in lines]
        assert not any("embedding model" in m or m == "warmed up" for m in messages), messages  # no model, no warm-up


def test_an_api_replica_without_an_embedding_server_is_refused_at_start() -> None:
    with pytest.raises(SettingsError, match="never loads the embedding model") as err:
        Settings.from_env(env={"VECFLOW_ROLE": "api"})
    assert "VECFLOW_EMBEDDING_ENDPOINT" in str(err.value) and "role `all`" in str(err.value)
    assert Settings.from_env(env={"VECFLOW_ROLE": "api", "VECFLOW_EMBEDDING_ENDPOINT": "http://tei:80"}).role == "api"


# Starting together -------------------------------------------------------------------------------------------


async def test_three_replicas_started_together_migrate_and_bootstrap_once(tmp_path: Path, postgres_url: str) -> None:
    started = await asyncio.gather(
        *(
            start_server(tmp_path / f"r{n}", postgres_url, key=KNOWN_KEY, bootstrap_api_key=BOOTSTRAP_KEY)
            for n in range(3)
        ),
        return_exceptions=True,
    )
    servers = [s for s in started if isinstance(s, Server)]
    try:
        assert len(servers) == 3, [s for s in started if not isinstance(s, Server)]
        assert sum(s.app.bootstrap_key is not None for s in servers) == 1
        for srv in servers:
            await srv.stubs().kbs.ListKnowledgeBases(kb_pb2.ListKnowledgeBasesRequest())  # each serves the key
        async with servers[0].app.db.read_session() as s:
            counts = [
                (await s.execute(text(f"SELECT count(*) FROM {table}"))).scalar()
                for table in ("accounts", "projects", "api_keys", "alembic_version")
            ]
        assert counts == [1, 1, 1, 1]
    finally:
        for srv in servers:
            await srv.close()


async def test_request_ids_and_revocations_hold_across_replicas(tmp_path: Path, postgres_url: str) -> None:
    a = await start_server(tmp_path / "a", postgres_url, auth_cache_seconds=0.2)
    b = await start_server(tmp_path / "b", postgres_url, key=a.key, auth_cache_seconds=0.2)
    try:
        request = kb_pb2.CreateKnowledgeBaseRequest(name="once", request_id=str(uuid.uuid4()))
        first = (await a.stubs().kbs.CreateKnowledgeBase(request)).knowledge_base
        again = (await b.stubs().kbs.CreateKnowledgeBase(request)).knowledge_base
        assert again == first
        listed = (await b.stubs().kbs.ListKnowledgeBases(kb_pb2.ListKnowledgeBasesRequest())).knowledge_bases
        assert [kb.id for kb in listed] == [first.id]

        tenant = await a.tenant()
        for srv in (a, b):  # both verify (and cache) the key
            await srv.stubs(tenant.secret).kbs.ListKnowledgeBases(kb_pb2.ListKnowledgeBasesRequest())
        await a.app.auth.revoke_key(tenant.key_id)

        async def refused(srv: Server) -> bool:
            try:
                await srv.stubs(tenant.secret).kbs.ListKnowledgeBases(kb_pb2.ListKnowledgeBasesRequest())
            except grpc.aio.AioRpcError as err:
                assert err.code() == grpc.StatusCode.UNAUTHENTICATED
                return True
            return False

        assert await refused(a)  # at once where it was revoked
        await until(lambda: refused(b), "refused on the other replica", attempts=100)  # within its cache time
    finally:
        await b.close()
        await a.close()


async def idempotency_rows(srv: Server) -> list[tuple[str, bytes]]:
    async with srv.app.db.read_session() as s:
        rows = (await s.execute(text("SELECT request_id, response FROM idempotency_records"))).all()
    return [(r[0], bytes(r[1])) for r in rows]


async def test_the_same_request_id_on_two_replicas_at_once_makes_one_resource(
    tmp_path: Path, postgres_url: str
) -> None:
    a = await start_server(tmp_path / "a", postgres_url)
    b = await start_server(tmp_path / "b", postgres_url, key=a.key)
    try:
        requests = [kb_pb2.CreateKnowledgeBaseRequest(name=f"kb-{n}", request_id=str(uuid.uuid4())) for n in range(10)]
        calls = [srv.stubs().kbs.CreateKnowledgeBase(r) for r in requests for srv in (a, b)]  # each pair at once
        replies = await asyncio.gather(*calls)
        ids = [reply.knowledge_base.id for reply in replies]
        assert all(ids[2 * n] == ids[2 * n + 1] for n in range(10)), ids
        listed = (
            await a.stubs().kbs.ListKnowledgeBases(kb_pb2.ListKnowledgeBasesRequest(page_size=100))
        ).knowledge_bases
        assert sorted(kb.id for kb in listed) == sorted(set(ids)) and len(listed) == 10
        assert all(response != idem_store.PENDING for _, response in await idempotency_rows(a))

        # A call that fails leaves no PENDING row: the same request retried (on the other replica) is produced.
        taken = (
            await a.stubs().kbs.CreateKnowledgeBase(kb_pb2.CreateKnowledgeBaseRequest(name="taken"))
        ).knowledge_base
        retry = kb_pb2.CreateKnowledgeBaseRequest(name="taken", request_id=str(uuid.uuid4()))
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await a.stubs().kbs.CreateKnowledgeBase(retry)
        assert err.value.code() == grpc.StatusCode.ALREADY_EXISTS
        assert retry.request_id not in [rid for rid, _ in await idempotency_rows(a)]
        await a.stubs().kbs.DeleteKnowledgeBase(kb_pb2.DeleteKnowledgeBaseRequest(kb_id=taken.id))
        made = (await asyncio.wait_for(b.stubs().kbs.CreateKnowledgeBase(retry), 5)).knowledge_base
        assert made.name == "taken" and made.id != taken.id
        assert (await a.stubs().kbs.CreateKnowledgeBase(retry)).knowledge_base == made  # and now replayed
    finally:
        await b.close()
        await a.close()


async def test_a_slow_call_is_produced_once_by_services_that_share_only_the_database(
    tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two IdempotencyServices (two replicas' worth: no shared local lock) on one database."""
    monkeypatch.setattr(idem, "HEARTBEAT_SECONDS", 0.05)
    srv = await start_server(tmp_path, database_url)
    other_db = Database(database_url) if database_url.startswith("postgresql") else srv.app.db
    services = [srv.app.idempotency, idem.IdempotencyService(other_db, 3600)]
    project = srv.key.project_id
    produced: list[str] = []
    stamps: list[Any] = []

    async def produce() -> bytes:
        produced.append("x")
        await asyncio.sleep(0.5)
        return b"\x08\x01"

    async def slow() -> bytes:  # produce, watching its PENDING row being heartbeated
        async with srv.app.db.read_session() as s:
            first = await idem_store.recorded_response(s, project, "slow")
        response = await produce()
        async with srv.app.db.read_session() as s:
            later = await idem_store.recorded_response(s, project, "slow")
        assert first is not None and later is not None and later.response == idem_store.PENDING
        stamps.extend([first.created_at, later.created_at])
        return response

    try:
        replies = await asyncio.gather(*(svc.run(project, "slow", "M", b"req", slow) for svc in services * 2))
        assert replies == [b"\x08\x01"] * 4 and produced == ["x"]
        assert stamps[1] > stamps[0]  # heartbeated while it ran

        async def fail() -> bytes:
            produced.append("failed")
            raise RuntimeError("boom")

        with pytest.raises(RuntimeError):
            await services[0].run(project, "fails", "M", b"req", fail)
        assert await asyncio.wait_for(services[1].run(project, "fails", "M", b"req", produce), 5) == b"\x08\x01"

        # A PENDING row whose producer died (no heartbeat for STALE) is taken over; a fresh one is waited for.
        async with srv.app.db.session() as s:
            old = m.utcnow() - idem.STALE - timedelta(seconds=1)
            s.add(
                m.IdempotencyRecord(
                    project_id=project,
                    request_id="dead",
                    method="M",
                    request_digest=idem.digest(b"req"),
                    response=idem_store.PENDING,
                    created_at=old,
                )
            )
            s.add(
                m.IdempotencyRecord(
                    project_id=project,
                    request_id="alive",
                    method="M",
                    request_digest=idem.digest(b"req"),
                    response=idem_store.PENDING,
                    created_at=m.utcnow(),
                )
            )
        assert await services[1].run(project, "dead", "M", b"req", produce) == b"\x08\x01"
        waiting = asyncio.create_task(services[1].run(project, "alive", "M", b"req", produce))
        await asyncio.sleep(0.3)
        assert not waiting.done()
        details = await asyncio.gather(services[0].run(project, "alive", "N", b"req", produce), return_exceptions=True)
        assert getattr(details[0], "reason", None) == "REQUEST_ID_REUSED"  # a PENDING row is checked too
        async with srv.app.db.session() as s:
            await idem_store.record_response(s, project, "alive", "M", idem.digest(b"req"), b"\x08\x02")
        assert await asyncio.wait_for(waiting, 5) == b"\x08\x02"
        assert produced.count("x") == 3  # slow, fails' retry, dead
    finally:
        if other_db is not srv.app.db:
            await other_db.dispose()
        await srv.close()


# SQLite is single-node ---------------------------------------------------------------------------------------


async def test_a_second_server_on_one_sqlite_file_is_refused_with_a_clear_message(
    tmp_path: Path, sqlite_url: str
) -> None:
    first = await start_server(tmp_path, sqlite_url)
    try:
        env = {**os.environ, "VECFLOW_DATA_DIR": str(tmp_path / "second"), "VECFLOW_DATABASE_URL": sqlite_url}
        env |= {"VECFLOW_LISTEN_ADDRESS": f"127.0.0.1:{free_port()}", "VECFLOW_METRICS_ADDRESS": ""}
        second = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "vecflow", "serve"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert second.returncode == 1, second.stderr
        assert str(tmp_path / "vecflow.db") in second.stderr and f"(pid {os.getpid()})" in second.stderr
        assert "single-node" in second.stderr and "PostgreSQL" in second.stderr and "Traceback" not in second.stderr
        with pytest.raises(SingleNodeDatabase, match="replicas share"):
            await start_server(
                tmp_path / "api",
                f"sqlite+aiosqlite:///{tmp_path / 'other.db'}",
                role="api",
                embedding_endpoint="http://127.0.0.1:9",
                embedding_model="tei",
            )
    finally:
        await first.close()
    again = await start_server(tmp_path, sqlite_url, key=first.key)  # stopping gave the file up
    await again.close()
