"""Three replicas that share only PostgreSQL, a Milvus server and an S3-compatible store, each a `vecflow serve`
process with its own (empty) data directory: milvus-lite's engine as a TCP server and moto's S3 server stand in for
the Milvus and object-storage servers, on loopback.

Replica A is an `api` replica (it serves the API, runs no job and never loads the model: it embeds search queries
with an OpenAI-compatible embedding server, tests/helpers/embedding_server.py), B and C run everything. One upload goes through
A, its parse runs on B or C, it is watched from B and read from C; a file batch whose runner is killed with SIGKILL
midway completes on the other replica, a watcher on A sees every event once with contiguous sequences, and Milvus
holds exactly each file's chunks; every replica finds the documents.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
import pytest_asyncio
from grpc_health.v1 import health_pb2, health_pb2_grpc
from helpers.databases import POSTGRES_ENV, create_pg_database, drop_pg_database
from helpers.embedding_server import ModelEndpoint, model_endpoint
from helpers.milvus_server import free_port, milvus_lite_tcp
from helpers.s3 import moto_server
from helpers.server import Stubs
from test_pipeline import upload
from vecflow_client import metadata_interceptors
from vecflow_client.v1 import common_pb2, job_pb2, job_service_pb2, parse_service_pb2
from vecflow_client.v1 import knowledge_base_service_pb2 as kb_pb2
from vecflow_client.v1 import vector_store_service_pb2 as vs_pb2

pytestmark = [
    pytest.mark.skipif(
        not os.environ.get(POSTGRES_ENV),
        reason=f"{POSTGRES_ENV} is not set (e.g. postgresql+asyncpg://postgres@127.0.0.1:5432/test): "
        "replicas share PostgreSQL",
    ),
    pytest.mark.asyncio(loop_scope="module"),
    pytest.mark.timeout(600),
]

KEY = "vf_cluster-key-000000000000000000000"
BUCKET = "vecflow-cluster"
TOPICS = {
    "octopus": "The octopus has three hearts and blue blood; it tastes with the suckers on its arms.",
    "glacier": "A glacier carves valleys as it flows downhill under its own weight, grinding rock to flour.",
    "saffron": "Saffron is the dried stigma of a crocus flower, harvested by hand, worth more than silver.",
    "pulsar": "A pulsar is a spinning neutron star whose beams sweep past the Earth like a lighthouse.",
    "mangrove": "Mangrove trees grow in salt water and breathe through roots that stick out of the mud.",
    "obsidian": "Obsidian is volcanic glass that forms when lava cools too fast for crystals to grow.",
    "tardigrade": "The tardigrade survives boiling, freezing, vacuum and radiation by drying itself out.",
    "baobab": "The baobab stores thousands of litres of water in its swollen trunk through the dry season.",
}
FILLER = (
    "Observers recorded the details carefully across many seasons, comparing notes from several regions. "
    "The measurements were repeated by independent teams, and the results agreed within their margins. "
)


def document(topic: str, paragraphs: int) -> bytes:
    """A text of `paragraphs` paragraphs about one topic (several chunks), generated here."""
    lines = [f"{TOPICS[topic]} {FILLER * 3}Paragraph {i} about the {topic}." for i in range(paragraphs)]
    return "\n\n".join(lines).encode()


@dataclass
class Replica:
    name: str
    address: str
    proc: subprocess.Popen[bytes]
    log: Path
    channel: grpc.aio.Channel | None = None

    def stubs(self) -> Stubs:
        if self.channel is None:
            self.channel = grpc.aio.insecure_channel(
                self.address, interceptors=metadata_interceptors((("x-api-key", KEY),))
            )
        return Stubs.on(self.channel)


@dataclass
class Cluster:
    replicas: dict[str, Replica]
    milvus_uri: str
    embeddings: ModelEndpoint

    def __getitem__(self, name: str) -> Replica:
        return self.replicas[name]


async def _serving(address: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 240
    async with grpc.aio.insecure_channel(address) as channel:
        while time.monotonic() < deadline:
            assert proc.poll() is None, f"replica at {address} exited:\n{log.read_text()[-3000:]}"
            try:
                reply = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=1)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.aio.AioRpcError:
                pass
            await asyncio.sleep(0.2)
    raise AssertionError(f"replica at {address} never served:\n{log.read_text()[-3000:]}")


@contextlib.contextmanager
def shared_services(work: Path) -> Iterator[tuple[str, str, str]]:
    """A fresh PostgreSQL database, a Milvus server and an S3 bucket: (database URL, Milvus URI, S3 endpoint)."""
    base = os.environ[POSTGRES_ENV]
    url, name = asyncio.run(create_pg_database(base))
    try:
        with milvus_lite_tcp(work / "milvus") as milvus_uri, moto_server(buckets=(BUCKET,)) as endpoint:
            yield url, milvus_uri, endpoint
    finally:
        asyncio.run(drop_pg_database(base, name))


@pytest.fixture(scope="module")
def services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, str, ModelEndpoint]]:
    work = tmp_path_factory.mktemp("cluster")
    (work / "milvus").mkdir()
    with shared_services(work) as found, model_endpoint() as embeddings:
        yield (*found, embeddings)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def cluster(
    services: tuple[str, str, str, ModelEndpoint], tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Cluster]:
    url, milvus_uri, endpoint, embeddings = services
    work = tmp_path_factory.mktemp("replicas")
    replicas: dict[str, Replica] = {}
    for name, role in (("a", "api"), ("b", "all"), ("c", "all")):
        address = f"127.0.0.1:{free_port()}"
        log = work / f"replica-{name}.log"
        env = {
            **os.environ,
            "VECFLOW_DATABASE_URL": url,
            "VECFLOW_MILVUS_URI": milvus_uri,
            "VECFLOW_BLOB_URL": f"s3://{BUCKET}/cluster",
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_REGION": "us-east-1",
            "VECFLOW_REPLICA_ID": f"replica-{name}",
            "VECFLOW_ROLE": role,
            "VECFLOW_DATA_DIR": str(work / f"data-{name}"),
            "VECFLOW_LISTEN_ADDRESS": address,
            "VECFLOW_METRICS_ADDRESS": "",
            "VECFLOW_BOOTSTRAP_API_KEY": KEY,
            "VECFLOW_JOB_LEASE_SECONDS": "3",
            "VECFLOW_JOB_POLL_SECONDS": "0.2",
            "VECFLOW_PARSE_WORKERS": "1",
            "VECFLOW_LOG_LEVEL": "INFO",
        }
        if role == "api":  # never loads the model: queries are embedded by the embedding server
            env |= {"VECFLOW_EMBEDDING_ENDPOINT": embeddings.url, "VECFLOW_EMBEDDING_MODEL": embeddings.model}
        handle = log.open("wb")
        proc = subprocess.Popen([sys.executable, "-m", "vecflow", "serve"], env=env, stdout=handle, stderr=handle)
        handle.close()
        replicas[name] = Replica(name, address, proc, log)
    try:
        await asyncio.gather(*(_serving(r.address, r.proc, r.log) for r in replicas.values()))
        yield Cluster(replicas, milvus_uri, embeddings)
    finally:
        for replica in replicas.values():
            if replica.channel is not None:
                await replica.channel.close()
            if replica.proc.poll() is None:
                replica.proc.send_signal(signal.SIGTERM)
        for replica in replicas.values():
            try:
                replica.proc.wait(60)
            except subprocess.TimeoutExpired:
                replica.proc.kill()
                replica.proc.wait(10)


async def watch(stubs: Stubs, job_id: str, after: int = 0) -> list[job_pb2.JobHistoryEvent]:
    """Every event of the job after `after`, to its end (heartbeats left out)."""
    events = []
    async for item in stubs.jobs.WatchJob(
        job_service_pb2.WatchJobRequest(job_id=job_id, after_sequence=after), timeout=300
    ):
        if item.HasField("event"):
            events.append(item.event)
    return events


def contiguous(events: list[job_pb2.JobHistoryEvent], first: int = 1) -> bool:
    return [e.sequence for e in events] == list(range(first, first + len(events)))


async def search(stubs: Stubs, vs_id: str, query: str) -> list[common_pb2.SearchHit]:
    reply = await stubs.stores.SearchVectorStore(
        vs_pb2.SearchVectorStoreRequest(vector_store_id=vs_id, query=query, max_num_results=3), timeout=120
    )
    return list(reply.hits)


async def test_upload_on_one_replica_watch_on_another_read_on_a_third(cluster: Cluster) -> None:
    a, b, c = cluster["a"].stubs(), cluster["b"].stubs(), cluster["c"].stubs()
    kb = (await a.kbs.CreateKnowledgeBase(kb_pb2.CreateKnowledgeBaseRequest(name="shared"))).knowledge_base
    reply = await upload(a, kb.id, "octopus.txt", document("octopus", 2))
    events = await watch(b, reply.parse_job.id)  # the api replica runs no job: B or C parses it
    assert events and contiguous(events) and events[-1].job_status == job_pb2.JOB_STATUS_SUCCEEDED
    runners = {e.details["replica"] for e in events if "replica" in e.details}
    assert runners and runners <= {"replica-b", "replica-c"}, runners

    read = (await c.kbs.GetFile(kb_pb2.GetFileRequest(file_id=reply.file.id))).file
    assert read.parse_state == kb_pb2.PARSE_STATE_SUCCESS and read.parse_result_id
    extract = await c.parse.ExtractParseResult(
        parse_service_pb2.ExtractParseResultRequest(parse_result_id=read.parse_result_id)
    )
    done = await watch(c, extract.job.id)
    assert done[-1].job_status == job_pb2.JOB_STATUS_SUCCEEDED  # the parse result came back from S3

    store = (await c.stores.CreateVectorStore(vs_pb2.CreateVectorStoreRequest(name="shared"))).vector_store
    added = await c.stores.AddFilesToVectorStore(
        vs_pb2.AddFilesToVectorStoreRequest(vector_store_id=store.id, file_ids=[reply.file.id])
    )
    assert (await watch(a, added.job.id))[-1].job_status == job_pb2.JOB_STATUS_SUCCEEDED
    queries = len(cluster.embeddings.requests)
    for stubs in (a, b, c):
        hits = await search(stubs, store.id, "which animal has three hearts")
        assert hits and "three hearts" in hits[0].text
    assert len(cluster.embeddings.requests) > queries  # A embedded its query with the embedding server
    log = cluster["a"].log.read_text()
    assert "embedding model" not in log and "warmed up" not in log, log[-2000:]  # and never loaded it


async def test_a_batch_survives_the_kill_of_its_runner_and_milvus_holds_each_chunk_once(cluster: Cluster) -> None:
    a = cluster["a"].stubs()
    kb = (await a.kbs.CreateKnowledgeBase(kb_pb2.CreateKnowledgeBaseRequest(name="batch"))).knowledge_base
    uploads = [await upload(a, kb.id, f"{topic}.txt", document(topic, 80)) for topic in TOPICS]
    for reply in uploads:
        assert (await watch(a, reply.parse_job.id))[-1].job_status == job_pb2.JOB_STATUS_SUCCEEDED
    store = (await a.stores.CreateVectorStore(vs_pb2.CreateVectorStoreRequest(name="batch"))).vector_store
    batch = (
        await a.stores.CreateFileBatch(
            vs_pb2.CreateFileBatchRequest(vector_store_id=store.id, file_ids=[r.file.id for r in uploads])
        )
    ).file_batch
    watcher = asyncio.create_task(watch(a, batch.job_id))  # on the api replica, which is never killed

    # Find the runner from the history (`replica` on the claim), and kill it once it has inserted something.
    runner = ""
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        job = (await a.jobs.GetJob(job_service_pb2.GetJobRequest(job_id=batch.job_id))).job
        claims = [e.details["replica"] for e in job.history if e.step == "started"]
        inserted = any(e.step == "insert" and e.status == job_pb2.STEP_STATUS_SUCCEEDED for e in job.history)
        if claims and inserted:
            runner = claims[-1]
            break
        assert job.status != job_pb2.JOB_STATUS_SUCCEEDED, "the batch ended before its runner could be killed"
        await asyncio.sleep(0.05)
    assert runner in ("replica-b", "replica-c"), runner
    victim = cluster[runner.removeprefix("replica-")]
    victim.proc.send_signal(signal.SIGKILL)
    victim.proc.wait(10)

    events = await asyncio.wait_for(watcher, 300)
    assert contiguous(events), [e.sequence for e in events]
    assert events[-1].job_status == job_pb2.JOB_STATUS_SUCCEEDED
    claimed_by = [e.details["replica"] for e in events if e.step == "started"]
    survivor = "replica-c" if runner == "replica-b" else "replica-b"
    assert runner in claimed_by and survivor in claimed_by, claimed_by  # resumed on the other replica

    files = (await a.stores.ListVectorStoreFiles(vs_pb2.ListVectorStoreFilesRequest(vector_store_id=store.id))).files
    assert len(files) == len(TOPICS)
    assert all(f.status == vs_pb2.VECTOR_STORE_FILE_STATUS_COMPLETED and f.chunk_count > 1 for f in files)
    expected = {f.file_id: f.chunk_count for f in files}

    from pymilvus import MilvusClient
    from vecflow.vectors.milvus import CHUNKS_COLLECTION

    client = MilvusClient(uri=cluster.milvus_uri)
    try:
        rows = client.query(
            CHUNKS_COLLECTION,
            filter=f'vector_store_id == "{store.id}"',
            output_fields=["file_id", "chunk_index"],
            limit=16384,
        )
    finally:
        client.close()
    held: dict[str, list[int]] = {}
    for row in rows:
        held.setdefault(row["file_id"], []).append(row["chunk_index"])
    assert {f: len(i) for f, i in held.items()} == expected  # none missing, none twice
    assert all(sorted(i) == list(range(len(i))) for i in held.values())

    for name in ("a", survivor.removeprefix("replica-")):
        hits = await search(cluster[name].stubs(), store.id, "volcanic glass that cools too fast")
        assert hits and "Obsidian" in hits[0].text
