"""Ingestion throughput: documents through the service (upload → searchable) against two baselines.

    .venv/bin/python bench/ingest.py --docs 400      # a SciFact subset (default 400 documents)
    .venv/bin/python bench/ingest.py --docs 0        # the whole corpus (5,183 documents)

Same model, same chunking (the store's default strategy), same documents (SciFact `title + text`):
  service   upload every document, wait for the parse jobs, add all files to a vector store with
            one file batch, wait for it: chunks / second from first upload to the batch's end.
  (a)       embed-only: the model encoding exactly the service's chunks in batches of 64, nothing else.
  (b)       naive: a sequential script with the same libraries, one file at a time: parse, chunk,
            embed, insert into milvus-lite.
Prints the figures and the ratios service/(a) and service/(b).
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from common import KEY, document_text, load_corpus, upload_documents, vecflow_server, wait_parsed
from vecflow.pipeline.chunk import chunk_text
from vecflow.pipeline.embed import LocalEmbedder
from vecflow.pipeline.parse import parse_document
from vecflow.v1 import job_pb2
from vecflow.v1 import knowledge_base_service_pb2 as kb_pb2
from vecflow.v1 import vector_store_service_pb2 as vs_pb2
from vecflow.vectors.milvus import MilvusIndex
from vecflow_client import VecflowClient


async def through_service(address: str, docs: list[dict]) -> dict[str, float]:
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
        start = time.perf_counter()
        replies = await upload_documents(client, kb.id, docs)
        uploaded = time.perf_counter()
        await wait_parsed(client, kb.id, len(replies))
        parsed = time.perf_counter()
        batch = (
            await client.vector_stores.CreateFileBatch(
                vs_pb2.CreateFileBatchRequest(vector_store_id=store.id, file_ids=[r.file.id for r in replies])
            )
        ).file_batch
        job = await client.wait_job(batch.job_id)
        assert job.status == job_pb2.JOB_STATUS_SUCCEEDED, job.error
        end = time.perf_counter()
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
        "parse_s": parsed - uploaded,
        "index_s": end - parsed,
        "chunks": chunks,
        "size": size.max_chunk_size_tokens,
        "overlap": size.chunk_overlap_tokens,
    }


async def embed_only(embedder: LocalEmbedder, texts: list[str]) -> float:
    start = time.perf_counter()
    for i in range(0, len(texts), 64):
        await embedder.embed(texts[i : i + 64])
    return time.perf_counter() - start


async def naive(embedder: LocalEmbedder, docs: list[dict], tmp: Path, size: int, overlap: int) -> tuple[float, int]:
    index = MilvusIndex(str(tmp / "naive-milvus.db"), dim=embedder.dimension)
    await index.open()
    tokenizer = embedder.tokenizer
    start = time.perf_counter()
    total = 0
    for doc in docs:
        path = tmp / f"{doc['_id']}.txt"
        path.write_text(document_text(doc))
        parsed = parse_document(path, "text/plain")
        pages = [(p.number, p.char_start, p.char_end) for p in parsed.pages]
        chunks = chunk_text(parsed.text, tokenizer, size, overlap, pages)
        vectors = await embedder.embed([c.text for c in chunks])
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
                    "dense": v,
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
    args = parser.parse_args()
    docs = load_corpus(args.docs or None)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        with vecflow_server(tmp / "data") as address:
            service = asyncio.run(through_service(address, docs))

        async def baselines() -> tuple[float, int, float, int]:
            embedder = LocalEmbedder()
            await embedder.load()
            tokenizer = embedder.tokenizer
            texts = []
            for doc in docs:
                text = document_text(doc)
                texts += [c.text for c in chunk_text(text, tokenizer, service["size"], service["overlap"], [])]
            await embedder.embed(texts[:8])  # warm up
            a = await embed_only(embedder, texts)
            b, b_chunks = await naive(embedder, docs, tmp, service["size"], service["overlap"])
            await embedder.close()
            return a, len(texts), b, b_chunks

        a_seconds, a_chunks, b_seconds, b_chunks = asyncio.run(baselines())

    s_rate = service["chunks"] / service["seconds"]
    a_rate, b_rate = a_chunks / a_seconds, b_chunks / b_seconds
    print(
        f"documents: {len(docs)}   chunks: service {service['chunks']}, embed-only {a_chunks}, naive {b_chunks}"
        f"   (chunk {service['size']} tokens, overlap {service['overlap']})"
    )
    print(
        f"service    {service['seconds']:8.1f} s  {s_rate:8.1f} chunks/s   (upload {service['upload_s']:.1f} s, "
        f"parse {service['parse_s']:.1f} s, chunk+embed+insert {service['index_s']:.1f} s)"
    )
    print(f"(a) embed  {a_seconds:8.1f} s  {a_rate:8.1f} chunks/s")
    print(f"(b) naive  {b_seconds:8.1f} s  {b_rate:8.1f} chunks/s")
    print(f"ratio service/(a) = {s_rate / a_rate:.2f}   (goal >= 0.9)")
    print(f"ratio service/(b) = {s_rate / b_rate:.2f}   (goal >= 1.3)")


if __name__ == "__main__":
    main()
