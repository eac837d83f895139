"""Document lifecycle costs on a running server: attributes changed without re-embedding, and deletes.

    .venv/bin/python bench/lifecycle.py                 # one SciFact-built file of about 1,000 chunks
    .venv/bin/python bench/lifecycle.py --chunks 200    # smaller, for a smoke test

Prints: the time the file took to be indexed (and its embed steps alone), the time UpdateVectorStoreFile
took to give all its chunks new attributes (and the ratio to the indexing time), and the time from
DeleteFile to its purge job's end (chunks removed from Milvus). The model is the real one.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

from common import KEY, document_text, load_corpus, vecflow_server

CHUNK_TOKENS = 128


async def run(address: str, chunks: int) -> None:
    from vecflow_client import VecflowClient
    from vecflow_client.v1 import common_pb2, job_pb2, job_service_pb2
    from vecflow_client.v1 import knowledge_base_service_pb2 as kb_pb2
    from vecflow_client.v1 import vector_store_service_pb2 as vs_pb2

    # About 100 tokens of SciFact text per chunk wanted: ~ 5 characters a token.
    text, docs = "", load_corpus()
    for doc in docs:
        if len(text) > chunks * CHUNK_TOKENS * 4:
            break
        text += document_text(doc) + "\n\n"
    async with VecflowClient(address, KEY) as client:
        kbs, stores, jobs = client.knowledge_bases, client.vector_stores, client.jobs
        kb = (await kbs.CreateKnowledgeBase(kb_pb2.CreateKnowledgeBaseRequest(name="lifecycle"))).knowledge_base

        async def messages() -> AsyncIterator[kb_pb2.UploadFileRequest]:
            yield kb_pb2.UploadFileRequest(metadata=kb_pb2.UploadFileMetadata(kb_id=kb.id, name="scifact.txt"))
            yield kb_pb2.UploadFileRequest(chunk=text.encode())

        reply = await kbs.UploadFile(messages())
        await client.wait_job(reply.parse_job.id)
        store = (
            await stores.CreateVectorStore(
                vs_pb2.CreateVectorStoreRequest(
                    name="lifecycle",
                    chunking_strategy=common_pb2.ChunkingStrategy(
                        max_chunk_size_tokens=CHUNK_TOKENS, chunk_overlap_tokens=16
                    ),
                )
            )
        ).vector_store
        started = time.perf_counter()
        added = await stores.AddFilesToVectorStore(
            vs_pb2.AddFilesToVectorStoreRequest(vector_store_id=store.id, file_ids=[reply.file.id])
        )
        job = await client.wait_job(added.job.id)
        index_seconds = time.perf_counter() - started
        assert job.status == job_pb2.JOB_STATUS_SUCCEEDED, job.error
        embed_ms = sum(
            e.duration_ms for e in job.history if e.step == "embed" and e.status == job_pb2.STEP_STATUS_SUCCEEDED
        )
        got = (
            await stores.GetVectorStoreFile(
                vs_pb2.GetVectorStoreFileRequest(vector_store_id=store.id, file_id=reply.file.id)
            )
        ).file
        print(f"file: {len(text):,} characters, {got.chunk_count:,} chunks of ≤ {CHUNK_TOKENS} tokens")
        print(f"indexing: {index_seconds:.2f} s wall (embed steps, overlapping, {embed_ms / 1000:.2f} s in all)")

        timings = []
        for round_ in range(3):
            request = vs_pb2.UpdateVectorStoreFileRequest(vector_store_id=store.id, file_id=reply.file.id)
            request.attributes.update({"round": round_, "shelf": "science"})
            request.update_mask.paths.append("attributes")
            started = time.perf_counter()
            await stores.UpdateVectorStoreFile(request)
            timings.append(time.perf_counter() - started)
        best = min(timings)
        print(
            f"UpdateVectorStoreFile (all {got.chunk_count:,} chunks): best {best:.3f} s of {len(timings)} "
            f"({', '.join(f'{t:.3f}' for t in timings)}); {best / index_seconds:.3f}x the indexing time"
        )
        hits = await stores.SearchVectorStore(
            vs_pb2.SearchVectorStoreRequest(vector_store_id=store.id, query="cells", filter="round = 2")
        )
        assert hits.hits, "the filter sees the new attributes"

        started = time.perf_counter()
        await kbs.DeleteFile(kb_pb2.DeleteFileRequest(file_id=reply.file.id))
        acknowledged = time.perf_counter() - started
        while True:
            listed = await jobs.ListJobs(
                job_service_pb2.ListJobsRequest(operation=job_pb2.JOB_OPERATION_PURGE_FILES, page_size=1)
            )
            if listed.jobs and listed.jobs[0].status == job_pb2.JOB_STATUS_SUCCEEDED:
                break
            await asyncio.sleep(0.01)
        purged = time.perf_counter() - started
        print(f"DeleteFile: answered in {acknowledged * 1000:.1f} ms; chunks out of Milvus after {purged:.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chunks", type=int, default=1000, help="about how many chunks the file makes")
    chunks = parser.parse_args().chunks
    with tempfile.TemporaryDirectory() as tmp, vecflow_server(Path(tmp) / "data") as address:
        asyncio.run(run(address, chunks))


if __name__ == "__main__":
    main()
