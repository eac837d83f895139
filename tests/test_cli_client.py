"""The Python SDK (retries, request ids, uploads, paging, the blocking client) and the `vecflow` CLI.

SDK tests run against in-process servers where no embedding is needed. Everything that embeds, and
every CLI command, runs against real `vecflow serve` subprocesses: one shared server with the real
model (started once for the module and warmed up in the background while the in-process tests run)
and, for the watch tests, job-plugin servers that are killed with -9 and interrupted with SIGINT.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import pty
import re
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from helpers.server import Server, start_server
from test_cli import BOOTSTRAP_KEY, free_port
from vecflow_client import NO_RETRY, RetryPolicy, VecflowClient, VecflowSyncClient
from vecflow_client.v1 import job_pb2
from vecflow_client.v1 import knowledge_base_service_pb2 as kb_pb2
from vecflow_client.v1 import upsertion_task_service_pb2 as ut_pb2
from vecflow_client.v1 import vector_store_service_pb2 as vs_pb2

TESTS = Path(__file__).resolve().parent
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Z0-9]")
DOCS = {
    "animals.txt": "Octopuses have three hearts and blue blood. They escape from aquarium tanks.",
    "notes/astronomy.md": "# Astronomy\n\nPulsars are rotating neutron stars that emit beams of radiation.",
    "notes/deep/garden.md": "# Garden\n\nTomatoes need full sun and regular watering to ripen well.",
    "empty.txt": "",
}


# Servers as subprocesses ------------------------------------------------------------------------------


def wait_serving_sync(address: str, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    with grpc.insecure_channel(address) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise AssertionError(f"server exited with {proc.returncode}")
            try:
                if (
                    stub.Check(health_pb2.HealthCheckRequest(), timeout=1).status
                    == health_pb2.HealthCheckResponse.SERVING
                ):
                    return
            except grpc.RpcError:
                pass
            time.sleep(0.1)
    raise AssertionError(f"server at {address} never became SERVING")


@dataclass
class ServerProcess:
    """A `vecflow serve` subprocess that can be killed and started again on the same data and port."""

    data: Path
    extra_env: dict[str, str] = field(default_factory=dict)
    address: str = field(default_factory=lambda: f"127.0.0.1:{free_port()}")
    proc: subprocess.Popen[bytes] | None = None
    warm: threading.Thread | None = None
    warm_error: list[BaseException] = field(default_factory=list)

    @property
    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "VECFLOW_DATA_DIR": str(self.data),
            "VECFLOW_LISTEN_ADDRESS": self.address,
            "VECFLOW_METRICS_ADDRESS": "",
            "VECFLOW_BOOTSTRAP_API_KEY": BOOTSTRAP_KEY,
            "VECFLOW_AUTH_CACHE_SECONDS": "0",
            **self.extra_env,
        }

    @property
    def cli_env(self) -> dict[str, str]:
        """What a user's shell has: the address and key, no config file, a terminal 200 columns wide."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("VECFLOW_")}
        return {
            **env,
            "VECFLOW_ADDRESS": self.address,
            "VECFLOW_API_KEY": BOOTSTRAP_KEY,
            "XDG_CONFIG_HOME": str(self.data.parent / "xdg"),
            "COLUMNS": "200",
        }

    def start(self) -> None:
        self.data.mkdir(parents=True, exist_ok=True)
        log = (self.data.parent / f"{self.data.name}-server.log").open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "vecflow", "serve"], env=self.env, stdout=subprocess.DEVNULL, stderr=log
        )
        log.close()
        wait_serving_sync(self.address, self.proc)

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def ready(self) -> None:
        """Wait for the background warm-up (model loaded) to finish."""
        if self.warm is not None:
            self.warm.join(timeout=110)
            assert not self.warm.is_alive(), "warm-up did not finish"
            self.warm = None
        if self.warm_error:
            raise self.warm_error[0]


def warm_up(server: ServerProcess) -> None:
    """Parse one file and embed it: the tokenizer and the model are loaded before any test needs them."""
    try:
        with VecflowSyncClient(server.address, BOOTSTRAP_KEY) as client:
            kb = client.knowledge_bases.CreateKnowledgeBase(kb_pb2.CreateKnowledgeBaseRequest(name="warm-up"))
            reply = client.upload_file(kb.knowledge_base.id, b"Warm up the tokenizer and the model.", name="w.txt")
            client.wait_job(reply.parse_job.id)
            store = client.vector_stores.CreateVectorStore(vs_pb2.CreateVectorStoreRequest(name="warm-up"))
            job = client.vector_stores.AddFilesToVectorStore(
                vs_pb2.AddFilesToVectorStoreRequest(vector_store_id=store.vector_store.id, file_ids=[reply.file.id])
            ).job
            client.wait_job(job.id)
    except BaseException as err:  # reported by ready()
        server.warm_error.append(err)


@pytest.fixture(scope="module", autouse=True)
def model_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One real server with the real model for the module; it warms up while the in-process tests run."""
    server = ServerProcess(tmp_path_factory.mktemp("model") / "data", {"VECFLOW_JOB_POLL_SECONDS": "0.2"})
    server.start()
    server.warm = threading.Thread(target=warm_up, args=(server,), daemon=True)
    server.warm.start()
    try:
        yield server
    finally:
        if server.warm is not None:
            server.warm.join(timeout=60)
        server.stop()


@pytest.fixture
def served(model_server: ServerProcess) -> ServerProcess:
    model_server.ready()
    return model_server


def with_test_jobs(**extra: str) -> dict[str, str]:
    """Server settings for the test job handlers, with a 1 s lease so a killed job is requeued quickly."""
    return {
        "VECFLOW_JOB_PLUGINS": "helpers.job_plugins:register",
        "VECFLOW_JOB_LEASE_SECONDS": "1",
        "VECFLOW_JOB_POLL_SECONDS": "0.1",
        "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]),
        **extra,
    }


@pytest.fixture
def job_process(tmp_path: Path) -> Iterator[ServerProcess]:
    """A server running the test job handlers (see with_test_jobs)."""
    server = ServerProcess(tmp_path / "data", with_test_jobs())
    server.start()
    try:
        yield server
    finally:
        server.stop()


async def submit_test_job(server: ServerProcess, **params: Any) -> str:
    """Submit a test.steps job from this process through the engine, as another replica would."""
    from vecflow.jobs.engine import JobEngine
    from vecflow.jobs.eventlog import EventLog
    from vecflow.jobs.hub import WatchHub
    from vecflow.services.auth import AuthService
    from vecflow.storage.db import Database

    db = Database(f"sqlite+aiosqlite:///{server.data / 'vecflow.db'}")
    try:
        project = (await AuthService(db).authenticate(BOOTSTRAP_KEY)).project_id
        params.setdefault("results", str(server.data.parent / "results.db"))
        return (await JobEngine(EventLog(db, WatchHub())).submit(project, "test.steps", params=params)).id
    finally:
        await db.dispose()


# Running the CLI -------------------------------------------------------------------------------------------


def vecflow(
    server: ServerProcess, *args: str, env: dict[str, str] | None = None, timeout: float = 90
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vecflow", *args],
        env=env or server.cli_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def in_terminal(
    args: list[str], env: dict[str, str], *, timeout: float = 90, until: str = "", then: Any = None
) -> tuple[int, str]:
    """Run the CLI on a pseudo-terminal, as a person would; return its exit code and the screen text.

    When `until` appears in the output, `then(proc)` is called once (to send a signal, say).
    """
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "vecflow", *args], env=env, stdin=slave, stdout=slave, stderr=slave, close_fds=True
    )
    os.close(slave)
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    fired = not until
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.1)
            if ready:
                try:
                    data = os.read(master, 65536)
                except OSError:  # the child closed the terminal
                    break
                if not data:
                    break
                chunks.append(data)
                if not fired and until in ANSI.sub("", b"".join(chunks).decode("utf-8", "replace")):
                    fired = True
                    then(proc)
            elif proc.poll() is not None:
                break
        else:
            proc.kill()
    finally:
        os.close(master)
    code = proc.wait(timeout=30)
    text = ANSI.sub("", b"".join(chunks).decode("utf-8", "replace")).replace("\r", "")
    return code, text


def json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def make_docs(root: Path, docs: dict[str, str] = DOCS) -> Path:
    for rel, text in docs.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    (root / ".hidden").write_text("left out")
    return root


# SDK: retries, request ids, deadlines -----------------------------------------------------------------------


async def test_unary_calls_retry_until_the_server_comes_up(tmp_path: Path, sqlite_url: str) -> None:
    port = free_port()
    address = f"127.0.0.1:{port}"
    async with VecflowClient(address, BOOTSTRAP_KEY, retry=NO_RETRY) as impatient:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await impatient.knowledge_bases.ListKnowledgeBases(kb_pb2.ListKnowledgeBasesRequest())
        assert err.value.code() == grpc.StatusCode.UNAVAILABLE and impatient.retry_stats.retries == 0

    policy = RetryPolicy(attempts=30, initial_backoff=0.05, max_backoff=0.3)
    client = VecflowClient(address, BOOTSTRAP_KEY, retry=policy)
    create = asyncio.ensure_future(
        client.knowledge_bases.CreateKnowledgeBase(kb_pb2.CreateKnowledgeBaseRequest(name="late"))
    )
    while client.retry_stats.retries < 2:  # the client is backing off against a closed port
        assert not create.done()
        await asyncio.sleep(0.02)
    server = await start_server(tmp_path, sqlite_url, listen_address=address, bootstrap_api_key=BOOTSTRAP_KEY)
    try:
        kb = (await asyncio.wait_for(create, 30)).knowledge_base
        assert kb.name == "late" and client.retry_stats.last_error == grpc.StatusCode.UNAVAILABLE
        names = [k.name async for k in client.iter_knowledge_bases()]
        assert names == ["late"]
    finally:
        await client.close()
        await server.close()


class DropFirstResponse(grpc.aio.UnaryUnaryClientInterceptor):
    """Lets the first CreateKnowledgeBase reach the server and do its work, then loses the answer."""

    def __init__(self) -> None:
        self.dropped = False
        self.seen: list[tuple[str, Any, float | None]] = []

    async def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        method = details.method.decode() if isinstance(details.method, bytes) else details.method
        self.seen.append((method, request, details.timeout))
        call = await continuation(details, request)
        if method.endswith("/CreateKnowledgeBase") and not self.dropped:
            self.dropped = True
            await call  # the server created it
            raise grpc.aio.AioRpcError(grpc.StatusCode.UNAVAILABLE, grpc.aio.Metadata(), grpc.aio.Metadata(), "lost")
        return call


class DropFirstUpload(grpc.aio.StreamUnaryClientInterceptor):
    """The same for the first upload: the file is stored, the answer lost."""

    def __init__(self) -> None:
        self.dropped = False

    async def intercept_stream_unary(self, continuation: Any, details: Any, request_iterator: Any) -> Any:
        call = await continuation(details, request_iterator)
        if not self.dropped:
            self.dropped = True
            await call
            raise grpc.aio.AioRpcError(grpc.StatusCode.UNAVAILABLE, grpc.aio.Metadata(), grpc.aio.Metadata(), "lost")
        return call


async def test_automatic_request_id_makes_a_retried_create_idempotent(job_server: Server) -> None:
    lossy = DropFirstResponse()
    policy = RetryPolicy(initial_backoff=0.01)
    async with VecflowClient(
        job_server.address, job_server.key.secret, retry=policy, timeout=7.5, interceptors=[lossy, DropFirstUpload()]
    ) as client:
        request = kb_pb2.CreateKnowledgeBaseRequest(name="exactly-once")
        kb = (await client.knowledge_bases.CreateKnowledgeBase(request)).knowledge_base
        assert request.request_id == ""  # the caller's message is left alone
        sent = [(r, t) for m, r, t in lossy.seen if m.endswith("/CreateKnowledgeBase")]
        assert len(sent) == 2 and client.retry_stats.retries == 1
        assert sent[0][0].request_id and sent[0][0].request_id == sent[1][0].request_id  # the retry is the same request
        assert {t for _, t in sent} == {7.5}  # the default deadline, on each try
        assert [k.id async for k in client.iter_knowledge_bases()] == [kb.id]  # created once, not ALREADY_EXISTS

        mine = kb_pb2.CreateKnowledgeBaseRequest(name="own-id", request_id="7c9e6679-7425-40de-944b-e07fc1f90ae7")
        await client.knowledge_bases.CreateKnowledgeBase(mine)
        assert lossy.seen[-1][1].request_id == mine.request_id  # a caller's id is kept

        # A content upload whose answer is lost: the retry finds the name taken by the same bytes.
        reply = await client.upload_file(kb.id, b"stored once", name="once.txt", parse=False)
        files = [f async for f in client.iter_files(kb.id)]
        assert [f.id for f in files] == [reply.file.id] and client.retry_stats.retries == 2
        with pytest.raises(grpc.aio.AioRpcError) as err:  # other bytes under that name are still a clash
            await client.upload_file(kb.id, b"different", name="once.txt", parse=False)
        assert err.value.code() == grpc.StatusCode.ALREADY_EXISTS


class CountUploadMessages(grpc.aio.StreamUnaryClientInterceptor):
    def __init__(self) -> None:
        self.chunks: list[int] = []

    async def intercept_stream_unary(self, continuation: Any, details: Any, request_iterator: Any) -> Any:
        async def counted() -> AsyncIterator[kb_pb2.UploadFileRequest]:
            async for message in request_iterator:
                if message.HasField("chunk"):
                    self.chunks.append(len(message.chunk))
                yield message

        self.chunks = []
        return await continuation(details, counted())


async def test_upload_file_streams_a_path_in_chunks(job_server: Server, tmp_path: Path) -> None:
    counter = CountUploadMessages()
    big = tmp_path / "big.bin"
    with big.open("wb") as handle:
        for i in range(48):
            handle.write(hashlib.sha256(str(i).encode()).digest() * 2048)  # 64 KiB per round, 3 MiB in all
    size = big.stat().st_size
    async with VecflowClient(job_server.address, job_server.key.secret, interceptors=[counter]) as client:
        kb = (
            await client.knowledge_bases.CreateKnowledgeBase(kb_pb2.CreateKnowledgeBaseRequest(name="up"))
        ).knowledge_base
        await client.ensure_directory(kb.id, "a/b")
        await client.ensure_directory(kb.id, "a/b")  # already there: fine
        sent: list[int] = []
        reply = await client.upload_file(
            kb.id, big, directory="a/b", parse=False, chunk_size=256 * 1024, metadata={"k": "v"}, progress=sent.append
        )
        assert counter.chunks == [256 * 1024] * 12  # streamed piece by piece, never one big message
        assert sent[-1] == size and len(sent) == 12
        f = reply.file
        assert (f.name, f.directory, f.content_length) == ("big.bin", "a/b", size)
        assert f.uid == hashlib.sha256(big.read_bytes()).hexdigest() and f.metadata["k"] == "v"
        assert f.parse_state == kb_pb2.PARSE_STATE_SKIPPED and not reply.HasField("parse_job")

        empty = await client.upload_file(kb.id, b"", name="empty.txt", parse=False)
        assert counter.chunks == [0] and empty.file.content_length == 0  # one empty chunk for an empty file
        with big.open("rb") as handle:
            from_handle = await client.upload_file(kb.id, handle, name="again.bin", parse=False, chunk_size=1 << 20)
        assert counter.chunks == [1 << 20] * 3 and from_handle.file.uid == f.uid
        with pytest.raises(ValueError):
            await client.upload_file(kb.id, b"x")  # bytes need a name
        with pytest.raises(FileNotFoundError):
            await client.upload_file(kb.id, tmp_path / "missing.txt")


async def test_paging_helpers_walk_every_item_exactly_once(job_server: Server) -> None:
    async with VecflowClient(job_server.address, job_server.key.secret) as client:
        kbs = []
        for i in range(7):
            request = kb_pb2.CreateKnowledgeBaseRequest(name=f"kb-{i}")
            kbs.append((await client.knowledge_bases.CreateKnowledgeBase(request)).knowledge_base.id)
        walked = [kb.id async for kb in client.iter_knowledge_bases(page_size=2)]
        assert sorted(walked) == sorted(kbs) and len(walked) == 7

        kb = kbs[0]
        await client.ensure_directory(kb, "sub/deeper")
        names = [f"f{i}.txt" for i in range(5)]
        for name in names:
            await client.upload_file(kb, name.encode(), name=name, parse=False)
        for name in ("x.txt", "y.txt"):
            await client.upload_file(kb, name.encode(), name=name, directory="sub", parse=False)
        await client.upload_file(kb, b"z", name="z.txt", directory="sub/deeper", parse=False)
        root = [f.name async for f in client.iter_files(kb, page_size=2)]
        assert root == names
        everything = [(f.directory, f.name) async for f in client.iter_files(kb, recursive=True, page_size=2)]
        assert len(everything) == len(set(everything)) == 8
        under = [f.name async for f in client.iter_files(kb, "sub", True, page_size=1)]
        assert sorted(under) == ["x.txt", "y.txt", "z.txt"]
        assert [d.path async for d in client.iter_directories(kb, page_size=1)] == ["sub"]

        jobs = [
            (
                await job_server.app.engine.submit(
                    job_server.key.project_id,
                    "test.steps",
                    params={"items": 1, "results": str(Path(job_server.app.settings.data_dir) / "r.db")},
                )
            ).id
            for _ in range(5)
        ]
        seen = [job.id async for job in client.iter_jobs(page_size=2)]
        assert sorted(seen) == sorted(jobs)
        for job_id in jobs:
            await client.wait_job(job_id)
        done = [job.id async for job in client.iter_jobs(status="succeeded", page_size=3)]
        assert sorted(done) == sorted(jobs)
        assert [job async for job in client.iter_jobs(status=job_pb2.JOB_STATUS_FAILED)] == []


# SDK against the server with the model ----------------------------------------------------------------------


def test_sync_client_and_paging_over_stores_tasks_and_store_files(served: ServerProcess) -> None:
    with VecflowSyncClient(served.address, BOOTSTRAP_KEY) as client:
        kb = client.knowledge_bases.CreateKnowledgeBase(kb_pb2.CreateKnowledgeBaseRequest(name="sync")).knowledge_base
        client.ensure_directory(kb.id, "docs")
        replies = [
            client.upload_file(
                kb.id, f"Sync document {i} about topic {i}.".encode(), name=f"s{i}.txt", directory="docs"
            )
            for i in range(3)
        ]
        events = list(client.watch_job(replies[0].parse_job.id))
        assert [e.sequence for e in events] == list(range(1, len(events) + 1))
        assert events[-1].job_status == job_pb2.JOB_STATUS_SUCCEEDED
        for reply in replies[1:]:
            assert client.wait_job(reply.parse_job.id).status == job_pb2.JOB_STATUS_SUCCEEDED
        assert [f.name for f in client.iter_files(kb.id, "docs", page_size=1)] == ["s0.txt", "s1.txt", "s2.txt"]

        stores = [
            client.vector_stores.CreateVectorStore(vs_pb2.CreateVectorStoreRequest(name=f"pager-{i}")).vector_store.id
            for i in range(3)
        ]
        listed = [s.id for s in client.iter_vector_stores(page_size=2)]
        assert set(stores) <= set(listed) and len(listed) == len(set(listed))
        batch = client.vector_stores.CreateFileBatch(
            vs_pb2.CreateFileBatchRequest(vector_store_id=stores[0], file_ids=[r.file.id for r in replies])
        ).file_batch
        batch = client.wait_file_batch(stores[0], batch.id)
        assert batch.status == vs_pb2.FILE_BATCH_STATUS_COMPLETED and batch.file_counts.completed == 3
        in_store = [f.file_id for f in client.iter_vector_store_files(stores[0], page_size=1)]
        assert sorted(in_store) == sorted(r.file.id for r in replies)
        assert len(list(client.iter_vector_store_files(stores[0], status="completed"))) == 3
        assert list(client.iter_file_batch_files(stores[0], batch.id, status="failed")) == []
        hits = client.search(stores[0], "topic 2", max_num_results=1, mode="keyword")
        assert hits and hits[0].file_name == "s2.txt"

        tasks = []
        for i in range(3):
            item = ut_pb2.UpsertionItem(object_id=f"p{i}")
            item.payload.update({"text": f"paging item {i}"})
            reply = client.upsertion_tasks.CreateUpsertionTask(
                ut_pb2.CreateUpsertionTaskRequest(task_id=f"paging-{i}", items=[item])
            )
            tasks.append(reply.upsertion_task.id)
        walked = [t.id for t in client.iter_upsertion_tasks(page_size=1)]
        assert set(tasks) <= set(walked) and len(walked) == len(set(walked))
        for task_id in tasks:
            client.wait_job(
                client.upsertion_tasks.GetUpsertionTask(
                    ut_pb2.GetUpsertionTaskRequest(task_id=task_id)
                ).upsertion_task.job_id
            )


# The CLI -------------------------------------------------------------------------------------------------------


def test_cli_upload_folder_live_then_summary(served: ServerProcess, tmp_path: Path) -> None:
    docs = make_docs(tmp_path / "handbook")
    made = vecflow(served, "kb", "create", "cli-docs", "--json")
    assert made.returncode == 0, made.stderr
    kb_id = json.loads(made.stdout)["id"]

    # On a terminal: live bars, then one summary row per file. A failed parse makes the exit code 1.
    code, screen = in_terminal(["upload", str(docs), "--kb", "cli-docs", "--wait"], served.cli_env)
    assert code == 1, screen
    rows = {}
    for rel in DOCS:
        path = f"handbook/{rel}"
        row = next((line for line in screen.splitlines() if line.startswith(path + " ")), None)
        assert row is not None, f"no summary row for {path}:\n{screen}"
        rows[rel] = row
    for rel in ("animals.txt", "notes/astronomy.md", "notes/deep/garden.md"):
        assert " succeeded " in rows[rel] and re.search(r"parse [\d.]+ m?s", rows[rel]), rows[rel]
    assert " failed " in rows["empty.txt"] and "EMPTY_FILE: " in rows["empty.txt"]
    assert ".hidden" not in screen

    # The folder was mirrored, directories created as needed (by name: the KB is found by name or id).
    listing = vecflow(served, "kb", "ls", kb_id, "handbook", "--recursive", "--json")
    assert listing.returncode == 0, listing.stderr
    paths = {(f["directory"], f["name"], f["parse_state"]) for f in json_lines(listing.stdout)}
    assert ("handbook/notes/deep", "garden.md", "PARSE_STATE_SUCCESS") in paths
    assert ("handbook", "empty.txt", "PARSE_STATE_FAILED") in paths and len(paths) == 4

    # --json: an object per upload, per event and per file summary; sequences contiguous per job.
    single = tmp_path / "one.md"
    single.write_text("# One\n\nA single markdown file about comets and their tails.")
    out = vecflow(served, "upload", str(single), "--kb", kb_id, "--dir", "json/here", "--wait", "--json")
    assert out.returncode == 0, out.stderr
    lines = json_lines(out.stdout)
    assert lines[0]["type"] == "uploaded" and lines[-1]["type"] == "summary"
    events = [line["event"] for line in lines if line["type"] == "event"]
    assert [int(e["sequence"]) for e in events] == list(range(1, len(events) + 1))
    summary = lines[-1]
    assert summary["path"] == "json/here/one.md" and summary["state"] == "succeeded"
    assert summary["characters"] == len(single.read_text()) and summary["error"] is None
    assert set(summary["steps_ms"]) == {"parse", "store"}

    # Without --wait on a pipe: plain lines, exit 0; a name clash is that file's failure (exit 1).
    plain = vecflow(served, "upload", str(single), "--kb", "cli-docs")
    assert plain.returncode == 0 and plain.stdout.startswith("↑ one.md") and "parse job job_" in plain.stdout
    again = vecflow(served, "upload", str(single), "--kb", "cli-docs")
    assert again.returncode == 1 and "NAME_TAKEN" in again.stdout

    # --replace: only what changed is parsed again; the summary counts new, replaced and unchanged files.
    (docs / "animals.txt").write_text("Octopuses changed: they now have four hearts in this version.")
    (docs / "new.txt").write_text("A file that was not there before.")
    (docs / "archive.zip").write_bytes(b"PK\x05\x06" + b"\x00" * 18)  # an empty ZIP: a type vecflow does not parse
    redo = vecflow(served, "upload", str(docs), "--kb", "cli-docs", "--replace")
    assert redo.returncode == 0, redo.stdout + redo.stderr
    assert "2 new, 1 replaced, 3 unchanged" in redo.stderr, redo.stderr
    lines = {line.split()[1]: line for line in redo.stdout.splitlines() if line[:1] in "↑↻="}
    assert lines["handbook/animals.txt"].startswith("↻ ") and "parse job job_" in lines["handbook/animals.txt"]
    assert lines["handbook/notes/astronomy.md"].startswith("= ") and "unchanged" in lines["handbook/notes/astronomy.md"]
    assert "not parsed: application/zip is not a type vecflow parses" in lines["handbook/archive.zip"]


def test_cli_stores_add_then_search(served: ServerProcess) -> None:
    with VecflowSyncClient(served.address, BOOTSTRAP_KEY) as client:
        kb = client.knowledge_bases.CreateKnowledgeBase(kb_pb2.CreateKnowledgeBaseRequest(name="shelf")).knowledge_base
        for rel, text in DOCS.items():
            directory, _, name = rel.rpartition("/")
            client.ensure_directory(kb.id, directory)
            reply = client.upload_file(kb.id, text.encode(), name=name, directory=directory)
            client.wait_job(reply.parse_job.id)
    made = vecflow(served, "stores", "create", "shelf-store", "--chunk-size", "64", "--chunk-overlap", "0", "--json")
    assert made.returncode == 0, made.stderr
    store_id = json.loads(made.stdout)["id"]

    added = vecflow(served, "stores", "add", "shelf-store", "--kb", "shelf", "--attributes", '{"shelf": "science"}')
    assert added.returncode == 0, added.stdout + added.stderr
    assert "1 file(s) of shelf were not parsed" in added.stderr  # the empty file
    assert "files: 3/3 done (completed 3, failed 0, cancelled 0, in progress 0)" in added.stdout
    assert re.search(r"✓ +embed animals\.txt", added.stdout) and "completed: 3 files" in added.stdout

    found = vecflow(served, "search", "shelf-store", "which animal has three hearts", "--mode", "dense", "-k", "2")
    assert found.returncode == 0, found.stderr
    first = next(line for line in found.stdout.splitlines() if line.startswith("1\t"))
    assert "animals.txt" in first and "three hearts" in first and 'shelf="science"' in first
    keyword = vecflow(served, "search", store_id, "pulsars", "--mode", "keyword", "--json")
    hits = json_lines(keyword.stdout)
    assert hits[0]["file_name"] == "astronomy.md" and hits[0]["rank"] == 1
    filtered = vecflow(served, "search", store_id, "stars", "--filter", 'file_name = "garden.md"', "--json")
    assert {h["file_name"] for h in json_lines(filtered.stdout)} == {"garden.md"}
    bad = vecflow(served, "search", store_id, "x", "--filter", "file_name =")
    assert bad.returncode == 2 and "INVALID_FILTER" in bad.stderr
    batches = json_lines(vecflow(served, "stores", "files", store_id, "--json").stdout)
    assert len(batches) == 3 and {f["status"] for f in batches} == {"VECTOR_STORE_FILE_STATUS_COMPLETED"}
    got = vecflow(served, "batches", "get", store_id, batches[0]["batch_id"], "--json")
    assert json.loads(got.stdout)["file_counts"]["completed"] == 3  # numbers as numbers

    # set-attributes: merged into the current ones, values read as JSON where they are; filters see them.
    animals_id = next(
        f["id"]
        for f in json_lines(vecflow(served, "kb", "ls", "shelf", "--json").stdout)
        if f.get("name") == "animals.txt"
    )
    changed = vecflow(served, "stores", "set-attributes", "shelf-store", animals_id, "year=2024", "topic=zoology")
    assert changed.returncode == 0, changed.stderr
    assert 'shelf="science"' in changed.stdout and "year=2024" in changed.stdout and 'topic="zoology"' in changed.stdout
    zoo = vecflow(served, "search", store_id, "hearts", "--filter", "year >= 2020", "--json")
    assert {h["file_name"] for h in json_lines(zoo.stdout)} == {"animals.txt"}
    assert vecflow(served, "stores", "set-attributes", "shelf-store", animals_id, "oops").returncode == 2

    # kb rm: a typo deletes nothing; a directory needs --recursive; deleted files leave the store at once.
    typo = vecflow(served, "kb", "rm", "shelf", "animals.txt", "nope.txt")
    assert typo.returncode == 2 and "nope.txt: no such file or directory" in typo.stderr
    refused = vecflow(served, "kb", "rm", "shelf", "notes")
    assert refused.returncode == 2 and "--recursive" in refused.stderr
    assert len(json_lines(vecflow(served, "stores", "files", store_id, "--json").stdout)) == 3
    gone = vecflow(served, "kb", "rm", "shelf", "animals.txt", "notes", "--recursive", "--json")
    assert gone.returncode == 0, gone.stderr
    assert [(d["deleted"], d["path"]) for d in json_lines(gone.stdout)] == [
        ("file", "animals.txt"),
        ("directory", "notes"),
    ]
    assert json_lines(vecflow(served, "stores", "files", store_id, "--json").stdout) == []
    after = vecflow(served, "search", store_id, "which animal has three hearts", "--json")
    assert after.returncode == 0 and json_lines(after.stdout) == []


def test_cli_tasks_create_from_jsonl(served: ServerProcess, tmp_path: Path) -> None:
    items = tmp_path / "items.jsonl"
    rows = [
        {
            "object_id": "cat",
            "payload": {"body": "Cats purr and nap in the sun.", "kind": "pet"},
            "item_info": {"n": 1},
        },
        {"object_id": "ship", "payload": {"body": "Container ships carry cargo across oceans."}, "item_info": {"n": 2}},
        {"object_id": "oak", "payload": {"body": "Oak trees grow acorns."}},
    ]
    items.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n")
    out = vecflow(
        served,
        "tasks",
        "create",
        "--file",
        str(items),
        "--task-id",
        "cli-task",
        "--collection",
        "categories",
        "--text-field",
        "body",
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "created task cli-task  3 items" in out.stdout and "cli-task  done  3/3 items upserted" in out.stdout
    assert re.search(r"✓ +upsert batch 1 .*landed=3", out.stdout)
    again = vecflow(
        served,
        "tasks",
        "create",
        "--file",
        str(items),
        "--task-id",
        "cli-task",
        "--collection",
        "categories",
        "--text-field",
        "body",
        "--json",
    )
    assert again.returncode == 0 and json_lines(again.stdout)[-1]["status"] == "UPSERTION_TASK_STATUS_DONE"
    found = vecflow(
        served, "search", "--collection", "categories", "freight vessels at sea", "--mode", "dense", "-k", "1"
    )
    assert found.returncode == 0, found.stderr
    assert "ship" in next(line for line in found.stdout.splitlines() if line.startswith("1\t"))
    listed = json_lines(vecflow(served, "tasks", "list", "--json").stdout)
    assert "cli-task" in [t["id"] for t in listed]
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"object_id": "a", "payload": {"text": "fine"}}\n{"object_id": \n')
    bad = vecflow(served, "tasks", "create", "--file", str(broken))
    assert bad.returncode == 2 and "broken.jsonl:2:" in bad.stderr


def test_cli_configuration_precedence(served: ServerProcess, tmp_path: Path) -> None:
    base = {k: v for k, v in served.cli_env.items() if k not in ("VECFLOW_ADDRESS", "VECFLOW_API_KEY")}
    xdg = Path(base["XDG_CONFIG_HOME"]) / "vecflow"
    xdg.mkdir(parents=True, exist_ok=True)
    (xdg / "config.toml").write_text(f'address = "{served.address}"\napi_key = "{BOOTSTRAP_KEY}"\n')
    assert vecflow(served, "kb", "list", env=base).returncode == 0  # the default config file
    dead = f"127.0.0.1:{free_port()}"
    other = tmp_path / "other.toml"
    other.write_text(f'address = "{dead}"\napi_key = "{BOOTSTRAP_KEY}"\n')
    refused = vecflow(served, "kb", "list", "--config", str(other), env=base)
    assert refused.returncode == 2 and "cannot reach the server at " + dead in refused.stderr  # --config wins
    env_wins = vecflow(served, "kb", "list", "--config", str(other), env={**base, "VECFLOW_ADDRESS": served.address})
    assert env_wins.returncode == 0, env_wins.stderr  # environment over config file
    flag_wins = vecflow(served, "kb", "--address", served.address, "list", env={**base, "VECFLOW_ADDRESS": dead})
    assert flag_wins.returncode == 0, flag_wins.stderr  # flag over environment
    bad_key = vecflow(served, "kb", "list", "--api-key", "vf_wrong-key-000000000000000000", env=base)
    assert bad_key.returncode == 2 and "UNAUTHENTICATED" in bad_key.stderr
    missing = vecflow(served, "kb", "list", "--config", str(tmp_path / "nope.toml"), env=base)
    assert missing.returncode == 2 and "does not exist" in missing.stderr
    unknown = vecflow(served, "kb", "get", "no-such-kb", "--json", env=base)
    assert unknown.returncode == 2 and json.loads(unknown.stderr)["error"].startswith("no knowledge base")


async def test_cli_jobs_watch_resumes_across_a_server_kill(job_process: ServerProcess) -> None:
    from vecflow_client.v1 import job_service_pb2

    job_id = await submit_test_job(job_process, items=12, batch=2, delay=0.12, steps=["one", "two", "three"])
    watcher = subprocess.Popen(
        [sys.executable, "-m", "vecflow", "jobs", "watch", job_id, "--json"],
        env=job_process.cli_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(watcher.stdout.readline, "")), daemon=True)  # type: ignore[union-attr]
    reader.start()
    async with VecflowClient(job_process.address, BOOTSTRAP_KEY) as client:
        while True:  # mid-job: step one done, and the CLI has printed events
            job = await client.get_job(job_id)
            if lines and any(e.step == "one" and e.status == job_pb2.STEP_STATUS_SUCCEEDED for e in job.history):
                break
            await asyncio.sleep(0.02)
        assert job.status == job_pb2.JOB_STATUS_RUNNING
        job_process.kill()
        await asyncio.sleep(0.5)
        job_process.start()
        code = await asyncio.to_thread(watcher.wait, 60)
        reader.join(timeout=10)
        assert code == 0, watcher.stderr.read() if watcher.stderr else ""
        final = (await client.jobs.GetJob(job_service_pb2.GetJobRequest(job_id=job_id))).job
    events = [json.loads(line) for line in lines]
    assert [int(e["sequence"]) for e in events] == list(range(1, len(events) + 1))  # every event exactly once
    assert len(events) == len(final.history) and final.attempt == 2
    assert any(e["step"] == "requeued" for e in events)
    assert events[-1]["job_status"] == "JOB_STATUS_SUCCEEDED"


async def test_cli_ctrl_c_stops_watching_not_the_job(job_process: ServerProcess) -> None:
    job_id = await submit_test_job(job_process, items=10, batch=1, delay=0.2, steps=["one", "two"])
    code, screen = await asyncio.to_thread(
        in_terminal,
        ["jobs", "watch", job_id],
        job_process.cli_env,
        until="✓ one",
        then=lambda proc: proc.send_signal(signal.SIGINT),
    )
    assert code == 130, screen
    assert "stopped watching" in screen and f"vecflow jobs watch {job_id}" in screen
    assert "Traceback" not in screen
    async with VecflowClient(job_process.address, BOOTSTRAP_KEY) as client:
        assert (await client.get_job(job_id)).status == job_pb2.JOB_STATUS_RUNNING  # the job goes on
        job = await client.wait_job(job_id)
    assert job.status == job_pb2.JOB_STATUS_SUCCEEDED

    # On a pipe the same command prints plain lines and ends with the outcome and the exit code.
    done = vecflow(job_process, "jobs", "watch", job_id)
    assert done.returncode == 0 and done.stdout.splitlines()[-1] == f"job {job_id} succeeded"
    assert "steps: one " in done.stdout


async def test_cli_on_a_pipe_plain_tab_separated_lines_and_a_quiet_head(job_process: ServerProcess) -> None:
    """Tables on a pipe are tab-separated lines with a header and nothing drawn; a reader that stops early
    (`| head -1`) ends the command quietly, exit 0, no BrokenPipe traceback."""
    job_id = await submit_test_job(job_process, items=40, batch=1, delay=0.05, steps=["one", "two"])
    listed = vecflow(job_process, "jobs", "list")
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    header = lines[0].split("\t")
    assert header[0] == "id" and len(header) > 2 and all(len(line.split("\t")) == len(header) for line in lines)
    assert any(line.startswith(job_id + "\t") for line in lines[1:])
    assert not any(ch in listed.stdout for ch in "─━│┃┏┓") and "  " not in lines[0]

    watcher = subprocess.Popen(
        [sys.executable, "-m", "vecflow", "jobs", "watch", job_id, "--json"],
        env=job_process.cli_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert watcher.stdout is not None and watcher.stderr is not None
    first = await asyncio.to_thread(watcher.stdout.readline)  # like head -1: one line, then the pipe closes
    watcher.stdout.close()
    code = await asyncio.to_thread(watcher.wait, 60)
    errors = watcher.stderr.read().decode()
    assert json.loads(first)["sequence"] in (1, "1")
    assert code == 0 and "Traceback" not in errors and "BrokenPipe" not in errors, errors


async def test_a_delete_survives_kill_9_before_its_chunks_are_removed(tmp_path: Path) -> None:
    """DeleteFile commits, then the server is killed (-9) while its purge job still waits for the only worker:
    no search finds the file meanwhile, and after the restart the purge finishes and Milvus holds none of it."""
    server = ServerProcess(tmp_path / "data", with_test_jobs(VECFLOW_WORKERS="1"))
    server.start()
    try:
        async with VecflowClient(server.address, BOOTSTRAP_KEY) as client:
            kbs, stores = client.knowledge_bases, client.vector_stores
            kb = (await kbs.CreateKnowledgeBase(kb_pb2.CreateKnowledgeBaseRequest(name="k"))).knowledge_base
            files = {}
            for name, text in (("animals.txt", DOCS["animals.txt"]), ("garden.md", DOCS["notes/deep/garden.md"])):
                reply = await client.upload_file(kb.id, text.encode(), name=name)
                await client.wait_job(reply.parse_job.id)
                files[name] = reply.file.id
            store = (await stores.CreateVectorStore(vs_pb2.CreateVectorStoreRequest(name="s"))).vector_store
            added = await stores.AddFilesToVectorStore(
                vs_pb2.AddFilesToVectorStoreRequest(vector_store_id=store.id, file_ids=list(files.values()))
            )
            assert (await client.wait_job(added.job.id)).status == job_pb2.JOB_STATUS_SUCCEEDED
            blocker = await submit_test_job(server, items=400, batch=1, delay=0.05, steps=["busy"])
            while (await client.get_job(blocker)).status != job_pb2.JOB_STATUS_RUNNING:
                await asyncio.sleep(0.05)
            await kbs.DeleteFile(kb_pb2.DeleteFileRequest(file_id=files["animals.txt"]))
            found = await client.search(store.id, "three hearts", max_num_results=10)
            assert {h.file_id for h in found} == {files["garden.md"]}
            purges = [j async for j in client.iter_jobs(operation="purge_files")]
            assert len(purges) == 1 and purges[0].status == job_pb2.JOB_STATUS_PENDING, purges
        server.kill()
        server.start()
        async with VecflowClient(server.address, BOOTSTRAP_KEY) as client:
            purged = await client.wait_job(purges[0].id)
            assert purged.status == job_pb2.JOB_STATUS_SUCCEEDED, purged.error
            found = await client.search(store.id, "three hearts", max_num_results=10)
            assert {h.file_id for h in found} == {files["garden.md"]}
        server.stop()
        from vecflow.vectors.milvus import MilvusIndex

        async with MilvusIndex(str(server.data / "milvus.db"), dim=384) as index:
            assert await index.count_chunks(purged.project_id, store.id, files["animals.txt"]) == 0
            assert await index.count_chunks(purged.project_id, store.id, files["garden.md"]) > 0
    finally:
        server.stop()
