"""A cluster on one machine: replicas that share only PostgreSQL, a Milvus server and an S3 store.

    .venv/bin/python bench/cluster.py                    # ingestion with 1 and 2 workers, then a 1 GiB upload
    .venv/bin/python bench/cluster.py --docs 200 --upload-mib 256
    .venv/bin/python bench/cluster.py --database-url postgresql+asyncpg://postgres@127.0.0.1:5432/test

The shared services run on loopback: a fresh database on the PostgreSQL at --database-url (default
VECFLOW_TEST_POSTGRES_URL), milvus-lite's engine as a gRPC server, moto's S3 server. Every replica is a
`vecflow serve` process with its own empty data directory.

(1) Ingestion with a model that costs nothing (bench/ingest.py --free-model's loopback embedding endpoint):
    SciFact documents uploaded through one `api` replica in groups, each group added with a file batch, with one
    `worker` replica, then (on a fresh database, bucket and Milvus) with two; chunks per second from the first
    upload to the last batch done, and the ratio two / one.
(2) One upload of --upload-mib MiB through an `all` replica into S3: MiB/s and the growth of the replica's
    RSS over its idle RSS (sampled every 50 ms while the upload runs).
Cross-replica WatchJob latency is bench/watch_replicas.py.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "tests"))

from common import KEY, free_port, load_corpus, stub_embeddings, upload_documents  # noqa: E402
from helpers.databases import create_pg_database, drop_pg_database  # noqa: E402
from helpers.milvus_server import milvus_lite_tcp  # noqa: E402
from helpers.s3 import moto_server  # noqa: E402

BUCKET = "vecflow-bench"
MIB = 1024 * 1024


@contextlib.contextmanager
def shared(database_url: str, work: Path) -> Iterator[dict[str, str]]:
    """A fresh database, Milvus server and bucket; yields the replicas' environment for them."""
    url, name = asyncio.run(create_pg_database(database_url))
    (work / "milvus").mkdir(parents=True)
    try:
        with milvus_lite_tcp(work / "milvus") as milvus_uri, moto_server(buckets=(BUCKET,)) as endpoint:
            yield {
                "VECFLOW_DATABASE_URL": url,
                "VECFLOW_MILVUS_URI": milvus_uri,
                "VECFLOW_BLOB_URL": f"s3://{BUCKET}/bench",
                "AWS_ENDPOINT_URL": endpoint,
                "AWS_ACCESS_KEY_ID": "bench",
                "AWS_SECRET_ACCESS_KEY": "bench",
                "AWS_REGION": "us-east-1",
            }
    finally:
        asyncio.run(drop_pg_database(database_url, name))


@contextlib.contextmanager
def replica(work: Path, name: str, role: str, env: dict[str, str]) -> Iterator[tuple[str, int]]:
    """One `vecflow serve` process; yields (address, pid) once it serves."""
    from common import _wait_ready

    address = f"127.0.0.1:{free_port()}"
    log = (work / f"{name}.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "vecflow", "serve"],
        env={
            **os.environ,
            **env,
            "VECFLOW_REPLICA_ID": name,
            "VECFLOW_ROLE": role,
            "VECFLOW_DATA_DIR": str(work / f"data-{name}"),
            "VECFLOW_LISTEN_ADDRESS": address,
            "VECFLOW_METRICS_ADDRESS": "",
            "VECFLOW_BOOTSTRAP_API_KEY": KEY,
            "VECFLOW_LOG_LEVEL": "WARNING",
        },
        stdout=log,
        stderr=log,
    )
    try:
        asyncio.run(_wait_ready(address))
        yield address, proc.pid
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


async def ingest(address: str, docs: list[dict[str, Any]], group: int) -> tuple[float, int]:
    """Upload in groups, a file batch per group; (seconds, chunks) until every batch is done."""
    from vecflow_client import VecflowClient
    from vecflow_client.v1 import job_pb2
    from vecflow_client.v1 import knowledge_base_service_pb2 as kb_pb2
    from vecflow_client.v1 import vector_store_service_pb2 as vs_pb2

    async with VecflowClient(address, KEY) as client:
        kb = (
            await client.knowledge_bases.CreateKnowledgeBase(kb_pb2.CreateKnowledgeBaseRequest(name="b"))
        ).knowledge_base
        store = (await client.vector_stores.CreateVectorStore(vs_pb2.CreateVectorStoreRequest(name="b"))).vector_store
        start = time.perf_counter()
        batches = []
        for first in range(0, len(docs), group):
            replies = await upload_documents(client, kb.id, docs[first : first + group])
            request = vs_pb2.CreateFileBatchRequest(vector_store_id=store.id, file_ids=[r.file.id for r in replies])
            batches.append((await client.vector_stores.CreateFileBatch(request)).file_batch)
        for batch in batches:
            job = await client.wait_job(batch.job_id)
            assert job.status == job_pb2.JOB_STATUS_SUCCEEDED, job.error
        seconds = time.perf_counter() - start
        chunks = 0
        async for f in client.iter_vector_store_files(store.id, page_size=1000):
            chunks += f.chunk_count
    return seconds, chunks


def ingestion(database_url: str, tmp: Path, docs: list[dict[str, Any]], group: int, workers: int) -> tuple[float, int]:
    work = tmp / f"ingest-{workers}"
    with shared(database_url, work) as env, stub_embeddings() as endpoint, contextlib.ExitStack() as stack:
        env = {**env, "VECFLOW_EMBEDDING_ENDPOINT": endpoint, "VECFLOW_EMBEDDING_MODEL": "free"}
        api, _ = stack.enter_context(replica(work, "api", "api", env))
        for n in range(workers):
            stack.enter_context(replica(work, f"worker-{n}", "worker", env))
        return asyncio.run(ingest(api, docs, group))


def rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


async def upload_big(address: str, mib: int) -> float:
    import grpc
    from vecflow_client.v1 import knowledge_base_service_pb2 as kb_pb2
    from vecflow_client.v1 import knowledge_base_service_pb2_grpc as kb_grpc

    piece = os.urandom(MIB)
    async with grpc.aio.insecure_channel(address, options=[("grpc.max_send_message_length", 8 * MIB)]) as channel:
        stub = kb_grpc.KnowledgeBaseServiceStub(channel)
        md = (("x-api-key", KEY),)
        kb = (await stub.CreateKnowledgeBase(kb_pb2.CreateKnowledgeBaseRequest(name="big"), metadata=md)).knowledge_base

        async def messages() -> AsyncIterator[kb_pb2.UploadFileRequest]:
            meta = kb_pb2.UploadFileMetadata(kb_id=kb.id, name="big.bin", parse=False)
            yield kb_pb2.UploadFileRequest(metadata=meta)
            for i in range(mib):
                yield kb_pb2.UploadFileRequest(chunk=piece[i % 7 :] + piece[: i % 7])  # no two pieces alike

        start = time.perf_counter()
        await stub.UploadFile(messages(), metadata=md, timeout=3600)
        return time.perf_counter() - start


def big_upload(database_url: str, tmp: Path, mib: int) -> tuple[float, int, int]:
    work = tmp / "upload"
    with shared(database_url, work) as env, stub_embeddings() as endpoint:
        env = {
            **env,
            "VECFLOW_EMBEDDING_ENDPOINT": endpoint,
            "VECFLOW_EMBEDDING_MODEL": "free",
            "VECFLOW_MAX_UPLOAD_BYTES": str((mib + 1) * MIB),
            "VECFLOW_WARM_UP": "false",  # nothing else loading meanwhile: the growth is the upload's
        }
        with replica(work, "all", "all", env) as (address, pid):
            time.sleep(2.0)
            idle = rss(pid)
            peak = idle
            done = threading.Event()

            def sample() -> None:
                nonlocal peak
                while not done.is_set():
                    peak = max(peak, rss(pid))
                    time.sleep(0.05)

            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            try:
                seconds = asyncio.run(upload_big(address, mib))
            finally:
                done.set()
                sampler.join()
            return seconds, idle, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=os.environ.get("VECFLOW_TEST_POSTGRES_URL", ""))
    parser.add_argument("--docs", type=int, default=400, help="SciFact documents to ingest")
    parser.add_argument("--group", type=int, default=40, help="documents per upload group and file batch")
    parser.add_argument("--upload-mib", type=int, default=1024, help="size of the big upload (0: skip it)")
    args = parser.parse_args()
    if not args.database_url:
        sys.exit("give --database-url (or set VECFLOW_TEST_POSTGRES_URL): the replicas share PostgreSQL")
    docs = load_corpus(args.docs)
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        if args.docs:
            one_s, chunks = ingestion(args.database_url, tmp, docs, args.group, workers=1)
            two_s, chunks2 = ingestion(args.database_url, tmp, docs, args.group, workers=2)
            print(f"ingestion, free model, {len(docs)} documents ({chunks} chunks), through one api replica:")
            print(f"  1 worker   {one_s:6.1f} s  {chunks / one_s:7.1f} chunks/s")
            print(f"  2 workers  {two_s:6.1f} s  {chunks2 / two_s:7.1f} chunks/s   ratio {one_s / two_s:.2f}")
        if args.upload_mib:
            seconds, idle, peak = big_upload(args.database_url, tmp, args.upload_mib)
            print(f"upload of {args.upload_mib} MiB into S3 (moto) through one replica:")
            print(
                f"  {seconds:6.1f} s  {args.upload_mib / seconds:7.1f} MiB/s   RSS idle {idle / MIB:.0f} MiB, "
                f"peak {peak / MIB:.0f} MiB, growth {(peak - idle) / MIB:.1f} MiB"
            )


if __name__ == "__main__":
    main()
