"""Search latency: the SearchVectorStore RPC against the same query done directly, at 10k and 100k chunks.

    .venv/bin/python bench/search.py [--sizes 10000,100000] [--queries 200]

For each size a vector store is created through the API, then filled directly with synthetic chunks
(random unit vectors; text drawn from SciFact sentences, or a fixed vocabulary without ../shared).
Direct baseline, in this process with the server stopped: embed the query with the same model and
search milvus-lite through the same adapter (the query a user would write against pymilvus).
Service: the same queries through SearchVectorStore on a running server. Both in dense mode and in
hybrid mode. Prints p50 / p99 and the ratio service / direct.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from pathlib import Path

from common import KEY, SCIFACT, vecflow_server
from vecflow.pipeline.embed import LocalEmbedder
from vecflow.vectors.milvus import MilvusIndex
from vecflow_client import VecflowClient
from vecflow_client.v1 import common_pb2
from vecflow_client.v1 import vector_store_service_pb2 as vs_pb2

MODES = {"dense": common_pb2.RANKING_MODE_DENSE, "hybrid": common_pb2.RANKING_MODE_HYBRID}


def sentences() -> list[str]:
    path = SCIFACT / "queries.jsonl"
    if path.exists():
        import json

        return [json.loads(line)["text"] for line in path.read_text().splitlines()]
    words = "cell protein gene tumor immune receptor signal pathway clinical trial dose risk".split()
    return [" ".join(random.choices(words, k=12)) for _ in range(1000)]


def unit(dim: int) -> list[float]:
    v = [random.gauss(0, 1) for _ in range(dim)]
    n = sum(x * x for x in v) ** 0.5
    return [x / n for x in v]


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def create_store(address: str) -> tuple[str, str]:
    async with VecflowClient(address, KEY) as client:
        store = (
            await client.vector_stores.CreateVectorStore(vs_pb2.CreateVectorStoreRequest(name="bench"))
        ).vector_store
        return store.id, store.project_id


async def fill(db: Path, project: str, store: str, size: int, texts: list[str]) -> None:
    index = MilvusIndex(str(db), dim=384)
    await index.open()
    for start in range(0, size, 2000):
        rows = [
            {
                "pk": f"{store}:f{i // 10}:{i % 10}",
                "project_id": project,
                "vector_store_id": store,
                "file_id": f"file_{i // 10:032x}",
                "file_name": f"doc{i // 10}.txt",
                "chunk_index": i % 10,
                "page": 0,
                "char_start": 0,
                "char_end": 100,
                "text": texts[i % len(texts)],
                "dense": unit(384),
                "attributes": {},
            }
            for i in range(start, min(size, start + 2000))
        ]
        await index.upsert_chunks(rows)
    await index.close()


async def direct(db: Path, project: str, store: str, queries: list[str], mode: str) -> list[float]:
    embedder = LocalEmbedder()
    await embedder.load()
    index = MilvusIndex(str(db), dim=384)
    await index.open()
    times = []
    for q in queries:
        t0 = time.perf_counter()
        vector = (await embedder.embed([q]))[0]
        await index.search_chunks(
            project, store, dense=vector, text=q if mode == "hybrid" else None, mode=mode, limit=10
        )
        times.append(time.perf_counter() - t0)
    await index.close()
    await embedder.close()
    return times


async def service(address: str, store: str, queries: list[str], mode: str) -> list[float]:
    times = []
    async with VecflowClient(address, KEY) as client:
        await client.vector_stores.SearchVectorStore(
            vs_pb2.SearchVectorStoreRequest(vector_store_id=store, query="warm")
        )
        for q in queries:
            t0 = time.perf_counter()
            await client.vector_stores.SearchVectorStore(
                vs_pb2.SearchVectorStoreRequest(
                    vector_store_id=store,
                    query=q,
                    max_num_results=10,
                    ranking_options=common_pb2.RankingOptions(mode=MODES[mode]),
                )
            )
            times.append(time.perf_counter() - t0)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()
    random.seed(7)
    texts = sentences()
    queries = random.sample(texts, min(args.queries, len(texts)))
    print(f"{'chunks':>8} {'mode':>7} {'direct p50':>11} {'p99':>7} {'service p50':>12} {'p99':>7} {'ratio p50':>10}")
    for size in [int(x) for x in args.sizes.split(",")]:
        with tempfile.TemporaryDirectory() as tmp_name:
            data = Path(tmp_name) / "data"
            with vecflow_server(data) as address:
                store, project = asyncio.run(create_store(address))
            asyncio.run(fill(data / "milvus.db", project, store, size, texts))
            results = {}
            for mode in MODES:
                d = asyncio.run(direct(data / "milvus.db", project, store, queries, mode))
                results[mode] = d
            with vecflow_server(data) as address:
                for mode in MODES:
                    s = asyncio.run(service(address, store, queries, mode))
                    d = results[mode]
                    print(
                        f"{size:>8} {mode:>7} {pct(d, 0.5):>9.1f}ms {pct(d, 0.99):>5.1f}ms {pct(s, 0.5):>10.1f}ms "
                        f"{pct(s, 0.99):>5.1f}ms {statistics.median(s) / statistics.median(d):>10.2f}",
                        flush=True,
                    )


if __name__ == "__main__":
    main()
