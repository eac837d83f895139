"""Unary calls on the hot path of a polling client, against a bare grpc.aio server answering the same bytes.

For each of GetJob, GetFile, ListFiles (a page of 50), GetFileBatch and GetUpsertionTask: RPC/s and p50/p99
latency at 1 and 16 concurrent callers, first through a running `vecflow serve`, then through a bare grpc.aio
server (its own process, like vecflow) that answers the very response bytes vecflow gave for that request after
the same metadata check (the `x-api-key` header against a known key). Both are measured in one run, one after the
other per method and concurrency, with the same client (raw bytes in and out, so the client's own cost is the
same); the ratio is vecflow's RPC/s over the bare server's.

    .venv/bin/python bench/unary.py [--seconds 3] [--postgres URL]

With --postgres the vecflow server keeps its metadata in that PostgreSQL database (a fresh one is created and
dropped), else in SQLite. The embedding model costs nothing here (an endpoint answering at once): the file batch
and the upsertion task exist to be read, not to measure embedding.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import KEY, free_port, stub_embeddings, vecflow_server

CONCURRENCY = (1, 16)

BARE_SERVER = r"""
import asyncio, pickle, sys
import grpc

answers = pickle.loads(open(sys.argv[2], "rb").read())  # method -> response bytes
KEY = sys.argv[3]
DENIED = grpc.StatusCode.UNAUTHENTICATED

def handler(answer):
    async def unary(request, context):
        if dict(context.invocation_metadata()).get("x-api-key") != KEY:
            await context.abort(DENIED, "a valid x-api-key is required")
        return answer
    return grpc.unary_unary_rpc_method_handler(unary)  # bytes in, bytes out: no (de)serializers

class Handlers(grpc.GenericRpcHandler):
    def service(self, details):
        answer = answers.get(details.method)
        return handler(answer) if answer is not None else None

async def main():
    server = grpc.aio.server()
    server.add_generic_rpc_handlers((Handlers(),))
    server.add_insecure_port(sys.argv[1])
    await server.start()
    print("ready", flush=True)
    await server.wait_for_termination()

asyncio.run(main())
"""


async def prepare(address: str) -> dict[str, tuple[str, bytes]]:
    """Create what the calls read; returns {label: (method path, serialized request)}."""
    from vecflow_client import VecflowClient
    from vecflow_client.v1 import job_service_pb2 as job_pb2
    from vecflow_client.v1 import knowledge_base_service_pb2 as kb_pb2
    from vecflow_client.v1 import upsertion_task_service_pb2 as ut_pb2
    from vecflow_client.v1 import vector_store_service_pb2 as vs_pb2

    async with VecflowClient(address, KEY) as client:
        kbs, stores = client.knowledge_bases, client.vector_stores
        kb = (await kbs.CreateKnowledgeBase(kb_pb2.CreateKnowledgeBaseRequest(name="unary"))).knowledge_base
        files = []
        for i in range(50):

            async def messages(i: int = i):  # type: ignore[no-untyped-def]
                yield kb_pb2.UploadFileRequest(metadata=kb_pb2.UploadFileMetadata(kb_id=kb.id, name=f"f{i}.txt"))
                yield kb_pb2.UploadFileRequest(chunk=f"Document {i} says something about topic {i}.".encode())

            files.append(await kbs.UploadFile(messages()))
        for reply in files:
            await client.wait_job(reply.parse_job.id)
        store = (await stores.CreateVectorStore(vs_pb2.CreateVectorStoreRequest(name="unary"))).vector_store
        batch = (
            await stores.CreateFileBatch(
                vs_pb2.CreateFileBatchRequest(vector_store_id=store.id, file_ids=[f.file.id for f in files[:5]])
            )
        ).file_batch
        await client.wait_job(batch.job_id)
        item = ut_pb2.UpsertionItem(object_id="o1")
        item.payload.update({"text": "an item to embed"})
        task = (
            await client.upsertion_tasks.CreateUpsertionTask(ut_pb2.CreateUpsertionTaskRequest(items=[item]))
        ).upsertion_task
        await client.wait_job(task.job_id)
        job = (await client.jobs.GetJob(job_pb2.GetJobRequest(job_id=files[0].parse_job.id))).job
        print(f"GetJob reads a job of {len(job.history)} history events")
        return {
            "GetJob": (
                "/vecflow.v1.JobService/GetJob",
                job_pb2.GetJobRequest(job_id=files[0].parse_job.id).SerializeToString(),
            ),
            "GetFile": (
                "/vecflow.v1.KnowledgeBaseService/GetFile",
                kb_pb2.GetFileRequest(file_id=files[0].file.id).SerializeToString(),
            ),
            "ListFiles(50)": (
                "/vecflow.v1.KnowledgeBaseService/ListFiles",
                kb_pb2.ListFilesRequest(kb_id=kb.id, page_size=50).SerializeToString(),
            ),
            "GetFileBatch": (
                "/vecflow.v1.VectorStoreService/GetFileBatch",
                vs_pb2.GetFileBatchRequest(vector_store_id=store.id, batch_id=batch.id).SerializeToString(),
            ),
            "GetUpsertionTask": (
                "/vecflow.v1.UpsertionTaskService/GetUpsertionTask",
                ut_pb2.GetUpsertionTaskRequest(task_id=task.id).SerializeToString(),
            ),
        }


async def answers(address: str, calls: dict[str, tuple[str, bytes]]) -> dict[str, bytes]:
    """vecflow's response bytes for each call (what the bare server answers with)."""
    import grpc

    found = {}
    async with grpc.aio.insecure_channel(address) as channel:
        for method, request in calls.values():
            call = channel.unary_unary(method)
            found[method] = await call(request, metadata=(("x-api-key", KEY),), timeout=30)
    return found


async def load(
    address: str, method: str, request: bytes, concurrency: int, seconds: float
) -> tuple[float, list[float]]:
    """Call `method` from `concurrency` callers for `seconds`; (RPC/s, latencies in seconds)."""
    import grpc

    async with grpc.aio.insecure_channel(address) as channel:
        call = channel.unary_unary(method)
        md = (("x-api-key", KEY),)
        for _ in range(20):  # warm the connection and both sides' caches
            await call(request, metadata=md, timeout=30)
        latencies: list[float] = []
        deadline = time.perf_counter() + seconds

        async def caller() -> None:
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                await call(request, metadata=md, timeout=30)
                latencies.append(time.perf_counter() - started)

        started = time.perf_counter()
        await asyncio.gather(*(caller() for _ in range(concurrency)))
        return len(latencies) / (time.perf_counter() - started), latencies


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


def bare_server(answer_file: Path) -> tuple[subprocess.Popen[str], str]:
    address = f"127.0.0.1:{free_port()}"
    proc = subprocess.Popen(
        [sys.executable, "-c", BARE_SERVER, address, str(answer_file), KEY], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    return proc, address


def run(seconds: float, database_url: str) -> None:
    import pickle

    with tempfile.TemporaryDirectory() as tmp, stub_embeddings() as endpoint:
        env = {"VECFLOW_EMBEDDING_ENDPOINT": endpoint, "VECFLOW_EMBEDDING_MODEL": "free"}
        if database_url:
            env["VECFLOW_DATABASE_URL"] = database_url
        with vecflow_server(Path(tmp) / "data", **env) as address:
            calls = asyncio.run(prepare(address))
            found = asyncio.run(answers(address, calls))
            answer_file = Path(tmp) / "answers.pickle"
            answer_file.write_bytes(pickle.dumps(found))
            bare, bare_address = bare_server(answer_file)
            try:
                print(
                    f"\n{'call':<18}{'callers':>8}{'vecflow RPC/s':>15}{'p50 ms':>8}{'p99 ms':>8}"
                    f"{'bare RPC/s':>12}{'p50 ms':>8}{'p99 ms':>8}{'ratio':>8}"
                )
                for label, (method, request) in calls.items():
                    for concurrency in CONCURRENCY:
                        ours, ours_lat = asyncio.run(load(address, method, request, concurrency, seconds))
                        theirs, theirs_lat = asyncio.run(load(bare_address, method, request, concurrency, seconds))
                        print(
                            f"{label:<18}{concurrency:>8}{ours:>15,.0f}{percentile(ours_lat, 50) * 1e3:>8.2f}"
                            f"{percentile(ours_lat, 99) * 1e3:>8.2f}{theirs:>12,.0f}"
                            f"{percentile(theirs_lat, 50) * 1e3:>8.2f}{percentile(theirs_lat, 99) * 1e3:>8.2f}"
                            f"{ours / theirs:>7.2f}×",
                            flush=True,
                        )
            finally:
                bare.terminate()
                bare.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=3.0, help="how long each measurement runs")
    parser.add_argument(
        "--postgres", default="", help="a PostgreSQL URL (postgresql+asyncpg://…) to create a database in"
    )
    args = parser.parse_args()
    print(f"{os.cpu_count()} CPUs; {'PostgreSQL' if args.postgres else 'SQLite'}; {args.seconds:g} s per figure")
    if not args.postgres:
        run(args.seconds, "")
        return
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    from helpers.databases import create_pg_database, drop_pg_database

    url, name = asyncio.run(create_pg_database(args.postgres))
    try:
        run(args.seconds, url)
    finally:
        asyncio.run(drop_pg_database(args.postgres, name))


if __name__ == "__main__":
    main()
