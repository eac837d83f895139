"""kill -9 the server while jobs run, start it again: every job finishes, once, with a contiguous history."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

from test_cli import BOOTSTRAP_KEY, free_port, wait_serving
from vecflow.jobs.engine import JobEngine
from vecflow.jobs.eventlog import EventLog
from vecflow.jobs.hub import WatchHub
from vecflow.services.auth import AuthService
from vecflow.storage.db import Database
from vecflow_client import VecflowClient
from vecflow_client.v1 import job_pb2, job_service_pb2

TESTS = Path(__file__).resolve().parent
ITEMS, BATCH, STEPS = 20, 2, ("one", "two", "three")


def server_env(data: Path, address: str, plugins: bool = False, **extra: str) -> dict[str, str]:
    """Environment for a `vecflow serve` subprocess (with the test job handlers when `plugins`)."""
    env = {
        **os.environ,
        "VECFLOW_DATA_DIR": str(data),
        "VECFLOW_LISTEN_ADDRESS": address,
        "VECFLOW_METRICS_ADDRESS": "",
        "VECFLOW_BOOTSTRAP_API_KEY": BOOTSTRAP_KEY,
        "VECFLOW_JOB_POLL_SECONDS": "0.1",
        **extra,
    }
    if plugins:
        env["VECFLOW_JOB_PLUGINS"] = "helpers.job_plugins:register"
        env["VECFLOW_WARM_UP"] = "false"  # the test jobs embed nothing
        env["PYTHONPATH"] = os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])
    return env


def start(env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "vecflow", "serve"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


async def test_jobs_survive_kill_9_and_finish_exactly_once(tmp_path: Path) -> None:
    data = tmp_path / "data"
    results = tmp_path / "results.db"
    address = f"127.0.0.1:{free_port()}"
    env = server_env(data, address, plugins=True, VECFLOW_JOB_LEASE_SECONDS="1")
    proc = start(env)
    db = None
    try:
        await wait_serving(address)
        # Submit through the engine's public interface from a second process sharing the database,
        # as another replica would; the server's workers pick the jobs up by polling.
        db = Database(f"sqlite+aiosqlite:///{data / 'vecflow.db'}")
        project = (await AuthService(db).authenticate(BOOTSTRAP_KEY)).project_id
        submitter = JobEngine(EventLog(db, WatchHub()))
        params = {"items": ITEMS, "batch": BATCH, "delay": 0.06, "results": str(results), "steps": list(STEPS)}
        job_ids = [(await submitter.submit(project, "test.steps", params=params)).id for _ in range(3)]

        client = VecflowClient(address, BOOTSTRAP_KEY)
        watched = {job_id: [] for job_id in job_ids}

        async def watch(job_id: str) -> None:
            async for event in client.watch_job(job_id, max_attempts=200, max_backoff=0.5):
                watched[job_id].append(event)

        watchers = [asyncio.create_task(watch(job_id)) for job_id in job_ids]
        # Kill once every job is past its first step and none has finished.
        while True:
            jobs = [(await client.jobs.GetJob(job_service_pb2.GetJobRequest(job_id=j))).job for j in job_ids]
            if all(any(e.step == "one" and e.status == job_pb2.STEP_STATUS_SUCCEEDED for e in j.history) for j in jobs):
                break
            await asyncio.sleep(0.02)
        assert all(j.status == job_pb2.JOB_STATUS_RUNNING for j in jobs)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        await asyncio.sleep(0.3)
        proc = start(env)
        await asyncio.wait_for(asyncio.gather(*watchers), timeout=90)
        assert client.reconnects >= 3  # every watcher rode through the outage

        for job_id in job_ids:
            job = (await client.jobs.GetJob(job_service_pb2.GetJobRequest(job_id=job_id))).job
            history = list(job.history)
            assert job.status == job_pb2.JOB_STATUS_SUCCEEDED and job.attempt == 2
            assert [e.sequence for e in history] == list(range(1, len(history) + 1))  # contiguous
            assert watched[job_id] == history  # the watcher saw everything once, across the crash
            requeue = next(e for e in history if e.step == "requeued")
            assert "lease" in requeue.details["reason"]
            after = [e for e in history if e.sequence > requeue.sequence]
            assert any(e.step == "one" and e.status == job_pb2.STEP_STATUS_SKIPPED for e in after)
            assert not any(e.step == "one" and e.status == job_pb2.STEP_STATUS_STARTED for e in after)
            assert history[-1].step == "job" and history[-1].job_status == job_pb2.JOB_STATUS_SUCCEEDED
        await client.close()
    finally:
        if db is not None:
            await db.dispose()
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.communicate(timeout=30)

    with sqlite3.connect(results) as conn:
        for job_id in job_ids:
            rows = conn.execute(
                "SELECT step, count(*), sum(writes) FROM produced WHERE job_id = ? GROUP BY step ORDER BY step",
                (job_id,),
            ).fetchall()
            # Every result exists exactly once (deterministic keys); the finished first step was never
            # redone, and at most the one batch in flight at the kill was rewritten, in place.
            assert [(step, count) for step, count, _ in rows] == [(s, ITEMS) for s in sorted(STEPS)]
            writes = {step: total for step, _, total in rows}
            assert writes["one"] == ITEMS
            assert sum(writes.values()) - ITEMS * len(STEPS) <= BATCH


async def test_cli_jobs_watch_shows_steps_live_and_exits_by_outcome(tmp_path: Path) -> None:
    data = tmp_path / "data"
    address = f"127.0.0.1:{free_port()}"
    env = server_env(data, address, plugins=True)
    proc = start(env)
    db = Database(f"sqlite+aiosqlite:///{data / 'vecflow.db'}")
    try:
        await wait_serving(address)
        project = (await AuthService(db).authenticate(BOOTSTRAP_KEY)).project_id
        submitter = JobEngine(EventLog(db, WatchHub()))
        base = {"items": 6, "batch": 2, "delay": 0.05, "results": str(tmp_path / "r.db")}
        ok = (await submitter.submit(project, "test.steps", params=base)).id
        bad = (await submitter.submit(project, "test.steps", params={**base, "fail_at": "two"})).id
        cli_env = {**env, "VECFLOW_ADDRESS": address, "VECFLOW_API_KEY": BOOTSTRAP_KEY}

        def cli(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [sys.executable, "-m", "vecflow", "jobs", *args],
                env=cli_env,
                capture_output=True,
                text=True,
                timeout=60,
            )

        watched = await asyncio.to_thread(cli, "watch", ok)
        assert watched.returncode == 0, watched.stderr
        lines = watched.stdout.splitlines()
        assert any(" one " in line and "succeeded" in line and " ms" in line for line in lines)
        assert lines[-1] == f"job {ok} succeeded"
        failed = await asyncio.to_thread(cli, "watch", bad)
        assert failed.returncode == 1
        assert "error: TEST_FAILURE: step two failed on purpose" in failed.stdout
        as_json = await asyncio.to_thread(cli, "--json", "watch", ok)
        events = [json.loads(line) for line in as_json.stdout.splitlines()]
        assert [int(e["sequence"]) for e in events] == list(range(1, len(events) + 1))
        missing = await asyncio.to_thread(cli, "get", "job_" + "0" * 32)
        assert missing.returncode == 2 and "NOT_FOUND" in missing.stderr
    finally:
        await db.dispose()
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)


async def test_real_ingestion_survives_kill_9_without_duplicate_vectors(tmp_path: Path) -> None:
    from google.protobuf import json_format  # noqa: F401  (keeps imports local to this heavier test)
    from test_pipeline import upload
    from vecflow.vectors.milvus import MilvusIndex
    from vecflow_client.v1 import common_pb2
    from vecflow_client.v1 import knowledge_base_service_pb2 as kb_pb2
    from vecflow_client.v1 import vector_store_service_pb2 as vs_pb2

    data = tmp_path / "data"
    address = f"127.0.0.1:{free_port()}"
    env = server_env(data, address, VECFLOW_JOB_LEASE_SECONDS="1")
    proc = start(env)
    try:
        await wait_serving(address)
        client = VecflowClient(address, BOOTSTRAP_KEY)
        stubs = SimpleNamespace(kbs=client.knowledge_bases)
        kb = (
            await client.knowledge_bases.CreateKnowledgeBase(kb_pb2.CreateKnowledgeBaseRequest(name="k"))
        ).knowledge_base
        files = []
        for i in range(6):
            text = " ".join(f"Document {i} sentence {j} about subject {j % 13} and more words." for j in range(400))
            reply = await upload(stubs, kb.id, f"doc{i}.txt", text.encode(), chunk_size=65536)
            files.append(reply.file.id)
            await client.wait_job(reply.parse_job.id)
        store = (
            await client.vector_stores.CreateVectorStore(
                vs_pb2.CreateVectorStoreRequest(
                    name="s",
                    chunking_strategy=common_pb2.ChunkingStrategy(max_chunk_size_tokens=24, chunk_overlap_tokens=0),
                )
            )
        ).vector_store
        batch = (
            await client.vector_stores.CreateFileBatch(
                vs_pb2.CreateFileBatchRequest(vector_store_id=store.id, file_ids=files)
            )
        ).file_batch
        seen = []

        async def watch() -> None:
            async for event in client.watch_job(batch.job_id, max_attempts=300, max_backoff=0.5):
                seen.append(event)

        watcher = asyncio.create_task(watch())
        while not any(e.step == "embed" and e.status == job_pb2.STEP_STATUS_SUCCEEDED for e in seen):
            await asyncio.sleep(0.05)
        proc.send_signal(signal.SIGKILL)  # mid-batch: some files done, one in the middle of embedding
        proc.wait(timeout=10)
        proc = start(env)
        await asyncio.wait_for(watcher, timeout=240)
        job = (await client.jobs.GetJob(job_service_pb2.GetJobRequest(job_id=batch.job_id))).job
        assert job.status == job_pb2.JOB_STATUS_SUCCEEDED and job.attempt == 2
        assert seen == list(job.history)
        listed = (
            await client.vector_stores.ListVectorStoreFiles(
                vs_pb2.ListVectorStoreFilesRequest(vector_store_id=store.id)
            )
        ).files
        chunk_counts = {f.file_id: f.chunk_count for f in listed}
        assert all(f.status == vs_pb2.VECTOR_STORE_FILE_STATUS_COMPLETED for f in listed) and len(listed) == 6
        await client.close()
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.communicate(timeout=60)
    # With the server stopped, count what Milvus really holds: exactly each file's chunks, no duplicates.
    index = MilvusIndex(str(data / "milvus.db"), dim=384)
    try:
        project = job.project_id
        for file_id, expected in chunk_counts.items():
            assert expected > 0
            assert await index.count_chunks(project, store.id, file_id) == expected, file_id
        assert await index.count_chunks(project, store.id) == sum(chunk_counts.values())
    finally:
        await index.close()
