"""Ingestion throughput: documents through the service (upload → searchable) against two baselines.

    .venv/bin/python bench/ingest.py --docs 400      # a SciFact subset (default 400 documents)
    .venv/bin/python bench/ingest.py --docs 0        # the whole corpus (5,183 documents)
    .venv/bin/python bench/ingest.py --service-only  # the service alone, no baselines
    .venv/bin/python bench/ingest.py --free-model    # the service with a model that costs nothing

Same model, same chunking (the store's default strategy), same documents (SciFact `title + text`):
  service   upload the documents in groups of --group (8 uploads at a time) and, as each group's
            uploads return, add its files to a vector store with a file batch (their parses still
            running: a batch indexes each file once its parse is done); chunks / second from the
            first upload to the end of the last batch.
  (a)       embed-only: the model encoding exactly the service's chunks, nothing else — the faster of
            sentence-transformers' encode() at its defaults (torch on every core) and vecflow's embedder.
  (b)       naive: a sequential script with the same libraries, one file at a time: parse, chunk,
            encode (sentence-transformers, torch on every core), insert into milvus-lite.
Prints the figures and the ratios service/(a) and service/(b), and the server's CPU split: the model's
encoders (vecflow's own metric), milvus-lite (its child process) and everything else.

--free-model points the server at a loopback OpenAI-compatible endpoint that answers at once with a fixed
vector: what remains is the service's own work, the ceiling a GPU or an embedding server would meet.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import torch
from common import (
    KEY,
    SERVERS,
    document_text,
    free_port,
    load_corpus,
    metric,
    stub_embeddings,
    tree_cpu_seconds,
    upload_documents,
    vecflow_server,
)
from vecflow.pipeline.chunk import chunk_text
from vecflow.pipeline.embed import LocalEmbedder, default_torch_threads, load_local_model
from vecflow.pipeline.parse import parse_document
from vecflow.vectors.milvus import MilvusIndex
from vecflow_client import VecflowClient
from vecflow_client.v1 import job_pb2
from vecflow_client.v1 import knowledge_base_service_pb2 as kb_pb2
from vecflow_client.v1 import vector_store_service_pb2 as vs_pb2


async def through_service(address: str, metrics_address: str, docs: list[dict], group: int) -> dict[str, float]:
    async with VecflowClient(address, KEY) as client:
        kb = (
            await client.knowledge_bases.CreateKnowledgeBase(kb_pb2.CreateKnowledgeBaseRequest(name="bench"))
        ).knowledge_base
        store = (
            await client.vector_stores.CreateVectorStore(vs_pb2.CreateVectorStoreRequest(name="bench"))
        ).vector_store
        # A production server is warm: wait until the model is loaded and Milvus is open (a search does).
        await client.vector_stores.SearchVectorStore(
            vs_pb2.SearchVectorStoreRequest(vector_store_id=store.id, query="warm up", max_num_results=1)
        )
        pid = SERVERS[address].pid
        cpu, own_cpu = tree_cpu_seconds(pid), tree_cpu_seconds(pid, descendants=False)
        embed_cpu = metric(metrics_address, "vecflow_embedding_cpu_seconds_total")
        client_cpu = time.process_time()
        start = time.perf_counter()
        batches = []
        for first in range(0, len(docs), group):
            # A batch may name files still being parsed: each is indexed as soon as its parse is done.
            replies = await upload_documents(client, kb.id, docs[first : first + group])
            request = vs_pb2.CreateFileBatchRequest(vector_store_id=store.id, file_ids=[r.file.id for r in replies])
            batches.append((await client.vector_stores.CreateFileBatch(request)).file_batch)
        uploaded = time.perf_counter()
        for batch in batches:
            job = await client.wait_job(batch.job_id)
            assert job.status == job_pb2.JOB_STATUS_SUCCEEDED, job.error
            done = await client.vector_stores.GetFileBatch(
                vs_pb2.GetFileBatchRequest(vector_store_id=store.id, batch_id=batch.id)
            )
            assert done.file_batch.file_counts.completed == batch.file_counts.total, done.file_batch.file_counts
        end = time.perf_counter()
        client_cpu = time.process_time() - client_cpu
        cpu, own_cpu = tree_cpu_seconds(pid) - cpu, tree_cpu_seconds(pid, descendants=False) - own_cpu
        embed_cpu = metric(metrics_address, "vecflow_embedding_cpu_seconds_total") - embed_cpu
        chunks = 0
        token = ""
        while True:
            page = await client.vector_stores.ListVectorStoreFiles(
                vs_pb2.ListVectorStoreFilesRequest(vector_store_id=store.id, page_size=1000, page_token=token)
            )
            chunks += sum(f.chunk_count for f in page.files)
            token = page.next_page_token
            if not token:
                break
        size = store.chunking_strategy
    return {
        "seconds": end - start,
        "upload_s": uploaded - start,
        "after_upload_s": end - uploaded,
        "cpu_s": cpu,
        "milvus_cpu_s": cpu - own_cpu,
        "embed_cpu_s": embed_cpu,
        "client_cpu_s": client_cpu,
        "chunks": chunks,
        "size": size.max_chunk_size_tokens,
        "overlap": size.chunk_overlap_tokens,
    }


async def embed_only_vecflow(embedder: LocalEmbedder, texts: list[str]) -> float:
    """vecflow's embedder (encoder threads, micro-batching) on the chunks, as the service uses it."""
    start = time.perf_counter()
    await embedder.embed(texts)
    return time.perf_counter() - start


def embed_only_plain(model: Any, texts: list[str]) -> float:
    """sentence-transformers' own encode over all the chunks at its defaults, with torch on every core."""
    torch.set_num_threads(default_torch_threads())
    start = time.perf_counter()
    model.encode(texts, normalize_embeddings=True, show_progress_bar=False)
    return time.perf_counter() - start


async def naive(model: Any, tokenizer: Any, docs: list[dict], tmp: Path, size: int, overlap: int) -> tuple[float, int]:
    """One file at a time: write, parse, chunk, encode (sentence-transformers, torch on every core), insert."""
    torch.set_num_threads(default_torch_threads())
    index = MilvusIndex(str(tmp / f"naive-{time.monotonic_ns()}.db"), dim=model.get_embedding_dimension())
    await index.open()
    start = time.perf_counter()
    total = 0
    for doc in docs:
        path = tmp / f"{doc['_id']}.txt"
        path.write_text(document_text(doc))
        parsed = parse_document(path, "text/plain", detect_language=False)  # the service does not detect it either
        pages = [(p.number, p.char_start, p.char_end) for p in parsed.pages]
        chunks = chunk_text(parsed.text, tokenizer, size, overlap, pages)
        vectors = model.encode([c.text for c in chunks], normalize_embeddings=True, show_progress_bar=False)
        await index.upsert_chunks(
            [
                {
                    "pk": f"naive:{doc['_id']}:{c.index}",
                    "project_id": "p",
                    "vector_store_id": "naive",
                    "file_id": doc["_id"],
                    "file_name": path.name,
                    "chunk_index": c.index,
                    "page": c.page,
                    "char_start": c.char_start,
                    "char_end": c.char_end,
                    "text": c.text,
                    "dense": v.tolist(),
                    "attributes": {},
                }
                for c, v in zip(chunks, vectors, strict=True)
            ]
        )
        total += len(chunks)
    seconds = time.perf_counter() - start
    await index.close()
    return seconds, total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=400, help="SciFact documents to ingest (0 = all 5,183)")
    parser.add_argument("--group", type=int, default=25, help="documents per file batch (one batch per upload group)")
    parser.add_argument("--repeat", type=int, default=1, help="run every measurement this many times; report the best")
    parser.add_argument("--service-only", action="store_true", help="measure the service only, not the baselines")
    parser.add_argument(
        "--free-model",
        action="store_true",
        help="the service embeds through a loopback endpoint that answers at once (a model that costs nothing): "
        "what the service itself can carry; implies --service-only",
    )
    args = parser.parse_args()
    args.service_only = args.service_only or args.free_model
    docs = load_corpus(args.docs or None)
    runs: list[dict[str, float]] = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        for n in range(args.repeat):
            metrics_address = f"127.0.0.1:{free_port()}"
            with ExitStack() as stack:
                env = {"VECFLOW_METRICS_ADDRESS": metrics_address}
                if args.free_model:
                    endpoint = stack.enter_context(stub_embeddings())
                    env.update(VECFLOW_EMBEDDING_ENDPOINT=endpoint, VECFLOW_EMBEDDING_MODEL="free")
                address = stack.enter_context(vecflow_server(tmp / f"data-{n}", **env))
                runs.append(asyncio.run(through_service(address, metrics_address, docs, args.group)))
        service = min(runs, key=lambda r: r["seconds"])
        if args.service_only:
            print_service(len(docs), service)
            return

        async def baselines() -> tuple[float, float, int, float, int]:
            embedder = LocalEmbedder()
            await embedder.load()
            model = load_local_model(embedder.path).model
            tokenizer = embedder.tokenizer
            texts = []
            for doc in docs:
                text = document_text(doc)
                texts += [c.text for c in chunk_text(text, tokenizer, service["size"], service["overlap"], [])]
            await embedder.embed(texts[:8])  # warm up
            plain = min(embed_only_plain(model, texts) for _ in range(args.repeat))
            ours = min([await embed_only_vecflow(embedder, texts) for _ in range(args.repeat)])
            await embedder.close()
            tried = [
                await naive(model, tokenizer, docs, tmp, service["size"], service["overlap"])
                for _ in range(args.repeat)
            ]
            b, b_chunks = min(tried)
            return plain, ours, len(texts), b, b_chunks

        a_plain, a_ours, a_chunks, b_seconds, b_chunks = asyncio.run(baselines())

    a_seconds = min(a_plain, a_ours)
    s_rate = service["chunks"] / service["seconds"]
    a_rate, b_rate = a_chunks / a_seconds, b_chunks / b_seconds
    print(
        f"embed-only and naive chunked the same documents into {a_chunks} and {b_chunks} chunks; best of {args.repeat}"
    )
    print_service(len(docs), service)
    print(
        f"(a) embed  {a_seconds:8.1f} s  {a_rate:8.1f} chunks/s   (the faster of sentence-transformers encode "
        f"{a_chunks / a_plain:.1f}/s and vecflow's embedder {a_chunks / a_ours:.1f}/s)"
    )
    print(f"(b) naive  {b_seconds:8.1f} s  {b_rate:8.1f} chunks/s")
    print(f"ratio service/(a) = {s_rate / a_rate:.2f}   (goal >= 0.9)")
    print(f"ratio service/(b) = {s_rate / b_rate:.2f}   (goal >= 1.3)")


def print_service(documents: int, service: dict[str, float]) -> None:
    s_rate = service["chunks"] / service["seconds"]
    other = service["cpu_s"] - service["embed_cpu_s"] - service["milvus_cpu_s"]
    print(
        f"documents: {documents}   chunks: {service['chunks']}"
        f"   (chunk {service['size']} tokens, overlap {service['overlap']})"
    )
    print(
        f"service    {service['seconds']:8.1f} s  {s_rate:8.1f} chunks/s   (upload {service['upload_s']:.1f} s, "
        f"then {service['after_upload_s']:.1f} s until the last batch was done)"
    )
    print(
        f"           server CPU {service['cpu_s']:.1f} s: the model's encoders {service['embed_cpu_s']:.1f} s, "
        f"milvus-lite {service['milvus_cpu_s']:.1f} s, "
        f"everything else {other:.1f} s"
    )
    print(
        f"           client (this process, same machine) CPU {service['client_cpu_s']:.1f} s; "
        f"everything else is {1000 * other / documents:.1f} ms of server CPU per document"
    )


if __name__ == "__main__":
    main()
