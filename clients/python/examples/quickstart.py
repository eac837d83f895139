"""vecflow from Python, end to end: a knowledge base, a folder of documents, parsing, a vector store, search.

    export VECFLOW_ADDRESS=127.0.0.1:50051 VECFLOW_API_KEY=vf_...
    python clients/python/examples/quickstart.py [FOLDER] ["a question"]

FOLDER defaults to a few sample documents this script writes to a temporary directory. Every
unary call retries on UNAVAILABLE and carries a request id, so rerunning after a dropped
connection does not create things twice; names are suffixed so that reruns do not clash.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

from vecflow_client import VecflowClient
from vecflow_client.v1 import common_pb2, job_pb2
from vecflow_client.v1 import knowledge_base_service_pb2 as kb_pb2
from vecflow_client.v1 import vector_store_service_pb2 as vs_pb2

SAMPLES = {
    "animals.txt": "Octopuses have three hearts and blue blood. Honeybees dance to show where flowers are.",
    "space/astronomy.md": "# Astronomy\n\nPulsars are rotating neutron stars that sweep beams of radiation.",
    "space/planets.md": "# Planets\n\nJupiter is the largest planet; Saturn has the most visible rings.",
}


def sample_folder() -> Path:
    root = Path(tempfile.mkdtemp(prefix="vecflow-quickstart-")) / "samples"
    for rel, text in SAMPLES.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


async def main(folder: Path, files: list[Path], question: str) -> int:
    address = os.environ.get("VECFLOW_ADDRESS", "127.0.0.1:50051")
    api_key = os.environ.get("VECFLOW_API_KEY", "")
    if not api_key:
        print("set VECFLOW_API_KEY (and VECFLOW_ADDRESS if the server is not on 127.0.0.1:50051)", file=sys.stderr)
        return 2
    suffix = time.strftime("%Y%m%d-%H%M%S")
    async with VecflowClient(address, api_key) as client:
        # 1. A knowledge base.
        kb = (
            await client.knowledge_bases.CreateKnowledgeBase(
                kb_pb2.CreateKnowledgeBaseRequest(name=f"quickstart-{suffix}", description="from quickstart.py")
            )
        ).knowledge_base
        print(f"knowledge base {kb.id} ({kb.name})")

        # 2. Upload the folder, mirroring its sub-folders as directories; files stream from disk.
        uploads = []
        for path in files:
            directory = path.parent.relative_to(folder).as_posix()
            directory = "" if directory == "." else directory
            await client.ensure_directory(kb.id, directory)
            reply = await client.upload_file(kb.id, path, directory=directory)
            uploads.append(reply)
            print(f"  uploaded {path.relative_to(folder)} -> {reply.file.id}")

        # 3. Watch the parse jobs live (each event once, across reconnects).
        async def watch(reply: kb_pb2.UploadFileResponse) -> job_pb2.Job:
            async for event in client.watch_job(reply.parse_job.id):
                if event.status == job_pb2.STEP_STATUS_SUCCEEDED:
                    print(f"  {reply.file.name}: {event.step} done in {event.duration_ms} ms")
            return await client.get_job(reply.parse_job.id)

        parsed = await asyncio.gather(*(watch(r) for r in uploads if r.HasField("parse_job")))
        ok = [job.source_id for job in parsed if job.status == job_pb2.JOB_STATUS_SUCCEEDED]
        for job in parsed:
            if job.status != job_pb2.JOB_STATUS_SUCCEEDED:
                print(f"  parse failed for {job.source_id}: {job.error.code}: {job.error.message}")
        if not ok:
            print("nothing was parsed; nothing to search", file=sys.stderr)
            return 1

        # 4. A vector store and a file batch; wait for it.
        store = (
            await client.vector_stores.CreateVectorStore(
                vs_pb2.CreateVectorStoreRequest(
                    name=f"quickstart-{suffix}",
                    chunking_strategy=common_pb2.ChunkingStrategy(max_chunk_size_tokens=128, chunk_overlap_tokens=16),
                )
            )
        ).vector_store
        batch = (
            await client.vector_stores.CreateFileBatch(
                vs_pb2.CreateFileBatchRequest(vector_store_id=store.id, file_ids=ok)
            )
        ).file_batch
        batch = await client.wait_file_batch(store.id, batch.id)
        counts = batch.file_counts
        print(f"vector store {store.id}: {counts.completed} of {counts.total} files embedded, {counts.failed} failed")

        # 5. Search (hybrid by default; mode="dense" or "keyword" also work).
        for hit in await client.search(store.id, question, max_num_results=3):
            print(f"  {hit.score:.4f}  {hit.file_name}  {hit.text[:80]!r}")
        async for f in client.iter_files(kb.id, recursive=True, page_size=100):
            print(f"  {f.directory or '.'}/{f.name}: {kb_pb2.ParseState.Name(f.parse_state)}")
    return 0


if __name__ == "__main__":
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else sample_folder()
    question = sys.argv[2] if len(sys.argv) > 2 else "which animal has three hearts?"
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    sys.exit(asyncio.run(main(folder, files, question)))
