"""The document pipeline end to end through gRPC: upload → parse → chunk → embed → Milvus → search.

Real server, real SQLite, real milvus-lite and the real embedding model (loaded once per process).
"""

from __future__ import annotations

import asyncio
import hashlib
import http.server
import io
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import json_format
from helpers.rpc import error_details
from helpers.server import Server, start_server
from vecflow_client import VecflowClient
from vecflow_client.v1 import common_pb2, job_pb2, job_service_pb2
from vecflow_client.v1 import knowledge_base_service_pb2 as kb_pb2
from vecflow_client.v1 import parse_service_pb2 as parse_pb2
from vecflow_client.v1 import upsertion_task_service_pb2 as tasks_pb2
from vecflow_client.v1 import vector_store_service_pb2 as vs_pb2

ANIMALS = (
    "Octopuses have three hearts and blue blood. They solve puzzles and escape from aquarium tanks.\n\n"
    "Honeybees communicate the direction of flowers with a waggle dance inside the hive."
)
ASTRONOMY = (
    "# Astronomy notes\n\nA neutron star is the collapsed core of a massive star. "
    "Pulsars are rotating neutron stars that emit beams of radiation.\n\n"
    "## Planets\n\nJupiter is the largest planet in the solar system."
)


def docx_bytes() -> bytes:
    import docx

    document = docx.Document()
    document.core_properties.title = "Quarterly gardening report"
    document.core_properties.author = "Ada Gardener"
    document.add_paragraph("Tomatoes need full sun and regular watering to ripen well.")
    table = document.add_table(rows=3, cols=2)
    for r, (a, b) in enumerate([("crop", "yield"), ("tomato", "12"), ("basil", "3")]):
        table.cell(r, 0).text, table.cell(r, 1).text = a, b
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


async def upload(
    stubs: Any,
    kb_id: str,
    name: str,
    content: bytes | None,
    *,
    directory: str = "",
    url: str = "",
    parse: bool | None = None,
    chunk_size: int = 1000,
    **meta: Any,
) -> kb_pb2.UploadFileResponse:
    async def messages() -> AsyncIterator[kb_pb2.UploadFileRequest]:
        metadata = kb_pb2.UploadFileMetadata(kb_id=kb_id, name=name, directory=directory, url=url, **meta)
        if parse is not None:
            metadata.parse = parse
        yield kb_pb2.UploadFileRequest(metadata=metadata)
        if content is not None:
            for start in range(0, max(len(content), 1), chunk_size):
                yield kb_pb2.UploadFileRequest(chunk=content[start : start + chunk_size])

    return await stubs.kbs.UploadFile(messages())


async def file_batch(stubs: Any, store_id: str, batch_id: str) -> vs_pb2.FileBatch:
    request = vs_pb2.GetFileBatchRequest(vector_store_id=store_id, batch_id=batch_id)
    return (await stubs.stores.GetFileBatch(request)).file_batch


async def wait(server: Server, job_id: str) -> job_pb2.Job:
    async with VecflowClient(server.address, server.key.secret) as client:
        return await client.wait_job(job_id)


@pytest.fixture
async def pipeline(tmp_path: Path, sqlite_url: str) -> AsyncIterator[Server]:
    srv = await start_server(tmp_path, sqlite_url, fetch_allow_hosts=("127.0.0.1/32",), max_upload_bytes=2_000_000)
    try:
        yield srv
    finally:
        await srv.close()


async def test_pipeline_on_each_backend_with_racing_uploads(tmp_path: Path, database_url: str) -> None:
    """Uploads, parse jobs and a file batch on SQLite and on PostgreSQL: every write of the hot path (one
    transaction per upload, per submission) on both, and racing uploads of one name record exactly one."""
    srv = await start_server(tmp_path, database_url)
    try:
        stubs = srv.stubs()
        kb = (await stubs.kbs.CreateKnowledgeBase(kb_pb2.CreateKnowledgeBaseRequest(name="racing"))).knowledge_base
        racing = await asyncio.gather(
            *(upload(stubs, kb.id, "animals.txt", ANIMALS.encode()) for _ in range(8)), return_exceptions=True
        )
        won = [r for r in racing if isinstance(r, kb_pb2.UploadFileResponse)]
        lost = [r for r in racing if not isinstance(r, kb_pb2.UploadFileResponse)]
        assert len(won) == 1, racing
        for err in lost:
            assert isinstance(err, grpc.aio.AioRpcError) and err.code() == grpc.StatusCode.ALREADY_EXISTS, err
            assert error_details(err)["reason"] == "NAME_TAKEN"
        other = await upload(stubs, kb.id, "astronomy.md", ASTRONOMY.encode())
        files = (await stubs.kbs.ListFiles(kb_pb2.ListFilesRequest(kb_id=kb.id))).files
        assert sorted(f.name for f in files) == ["animals.txt", "astronomy.md"]

        store = (await stubs.stores.CreateVectorStore(vs_pb2.CreateVectorStoreRequest(name="racing"))).vector_store
        ids = [won[0].file.id, other.file.id]
        batch = (
            await stubs.stores.CreateFileBatch(vs_pb2.CreateFileBatchRequest(vector_store_id=store.id, file_ids=ids))
        ).file_batch
        assert batch.file_counts.total == 2 and batch.file_counts.in_progress == 2
        job = await wait(srv, batch.job_id)
        assert job.status == job_pb2.JOB_STATUS_SUCCEEDED, job.error
        counts = (await file_batch(stubs, store.id, batch.id)).file_counts
        assert (counts.completed, counts.failed, counts.total) == (2, 0, 2)
        for reply in (won[0], other):
            parsed = await wait(srv, reply.parse_job.id)
            steps = [e.step for e in parsed.history if e.status == job_pb2.STEP_STATUS_SUCCEEDED]
            assert steps == ["parse", "store", "job"]
        # Added again (a second batch over the same files) updates their rows instead of adding more.
        again = (
            await stubs.stores.CreateFileBatch(vs_pb2.CreateFileBatchRequest(vector_store_id=store.id, file_ids=ids))
        ).file_batch
        assert (await wait(srv, again.job_id)).status == job_pb2.JOB_STATUS_SUCCEEDED
        listed = (
            await stubs.stores.ListVectorStoreFiles(vs_pb2.ListVectorStoreFilesRequest(vector_store_id=store.id))
        ).files
        assert sorted(f.file_id for f in listed) == sorted(ids) and {f.batch_id for f in listed} == {again.id}
        request = vs_pb2.SearchVectorStoreRequest(vector_store_id=store.id, query="how many hearts has an octopus")
        hits = (await stubs.stores.SearchVectorStore(request)).hits
        assert hits and hits[0].file_id == won[0].file.id and "three hearts" in hits[0].text
    finally:
        await srv.close()


async def test_upload_parse_index_and_search(pipeline: Server) -> None:
    stubs = pipeline.stubs()
    kb = (await stubs.kbs.CreateKnowledgeBase(kb_pb2.CreateKnowledgeBaseRequest(name="library"))).knowledge_base
    await stubs.kbs.CreateDirectory(kb_pb2.CreateDirectoryRequest(kb_id=kb.id, path="docs"))
    uploads = [
        await upload(stubs, kb.id, "animals.txt", ANIMALS.encode(), directory="docs"),
        await upload(stubs, kb.id, "astronomy.md", ASTRONOMY.encode(), directory="docs", chunk_size=17),
        await upload(stubs, kb.id, "garden.docx", docx_bytes(), directory="docs"),
    ]
    for reply in uploads:
        assert reply.file.parse_state == kb_pb2.PARSE_STATE_PENDING and reply.parse_job.id
    animals = uploads[0].file
    assert animals.uid == hashlib.sha256(ANIMALS.encode()).hexdigest()
    assert animals.content_length == len(ANIMALS.encode()) and animals.content_type == "text/plain"
    assert uploads[2].file.content_type.endswith("wordprocessingml.document")

    jobs = [await wait(pipeline, r.parse_job.id) for r in uploads]
    for job in jobs:
        assert job.status == job_pb2.JOB_STATUS_SUCCEEDED, job.error
        steps = [e.step for e in job.history if e.status == job_pb2.STEP_STATUS_SUCCEEDED]
        assert steps[:2] == ["parse", "store"]
    files = (await stubs.kbs.ListFiles(kb_pb2.ListFilesRequest(kb_id=kb.id, directory="docs"))).files
    assert [f.parse_state for f in files] == [kb_pb2.PARSE_STATE_SUCCESS] * 3
    result = (
        await stubs.parse.GetParseResult(parse_pb2.GetParseResultRequest(parse_result_id=files[0].parse_result_id))
    ).parse_result
    assert result.file_id == files[0].id and result.characters == len(ANIMALS) and result.tokens > 20
    assert result.text_preview.startswith("Octopuses")

    # Extract: the DOCX's own properties and its table.
    docx_result = next(f for f in files if f.name == "garden.docx").parse_result_id
    extract = await wait(
        pipeline,
        (await stubs.parse.ExtractParseResult(parse_pb2.ExtractParseResultRequest(parse_result_id=docx_result))).job.id,
    )
    data = json_format.MessageToDict(extract.result)
    assert data["metadata"]["title"] == "Quarterly gardening report"
    assert "Ada Gardener" in data["metadata"]["authors"]
    assert any(t["header"] == ["crop", "yield"] for t in data["tables"])
    # A plain-text file declares no language: the extract job detects it from the text.
    plain = await wait(
        pipeline,
        (
            await stubs.parse.ExtractParseResult(
                parse_pb2.ExtractParseResultRequest(parse_result_id=files[0].parse_result_id)
            )
        ).job.id,
    )
    assert json_format.MessageToDict(plain.result)["metadata"]["language"] == "en"

    # Chunk preview with a small strategy.
    astro_result = next(f for f in files if f.name == "astronomy.md").parse_result_id
    preview = await wait(
        pipeline,
        (
            await stubs.parse.ChunkParseResult(
                parse_pb2.ChunkParseResultRequest(
                    parse_result_id=astro_result,
                    preview_chunks=2,
                    chunking_strategy=common_pb2.ChunkingStrategy(max_chunk_size_tokens=16, chunk_overlap_tokens=4),
                )
            )
        ).job.id,
    )
    chunked = json_format.MessageToDict(preview.result)
    assert chunked["count"] >= 3 and chunked["tokens"]["max"] <= 16 and len(chunked["chunks"]) == 2

    # A vector store through a file batch; counts add up and move to completed.
    store = (
        await stubs.stores.CreateVectorStore(
            vs_pb2.CreateVectorStoreRequest(
                name="library",
                chunking_strategy=common_pb2.ChunkingStrategy(max_chunk_size_tokens=48, chunk_overlap_tokens=8),
            )
        )
    ).vector_store
    batch_request = vs_pb2.CreateFileBatchRequest(vector_store_id=store.id, file_ids=[f.id for f in files])
    batch_request.attributes.update({"shelf": "science"})
    batch = (await stubs.stores.CreateFileBatch(batch_request)).file_batch
    assert batch.status == vs_pb2.FILE_BATCH_STATUS_IN_PROGRESS and batch.file_counts.total == 3
    job = await wait(pipeline, batch.job_id)
    assert job.status == job_pb2.JOB_STATUS_SUCCEEDED, job.error
    embed_steps = [e for e in job.history if e.step == "embed" and e.status == job_pb2.STEP_STATUS_SUCCEEDED]
    # Small files share slices: every file's chunks are embedded and inserted, in fewer steps than files.
    insert_steps = [e for e in job.history if e.step == "insert" and e.status == job_pb2.STEP_STATUS_SUCCEEDED]
    chunk_steps = [e for e in job.history if e.step == "chunk" and e.status == job_pb2.STEP_STATUS_SUCCEEDED]
    assert embed_steps and len(embed_steps) == len(insert_steps)
    assert sum(e.details["chunks"] for e in embed_steps) == sum(e.details["rows"] for e in insert_steps)
    assert sum(e.details["chunks"] for e in embed_steps) == sum(e.details["chunks"] for e in chunk_steps)
    assert all(e.duration_ms >= 0 and e.details["chunks_per_second"] > 0 for e in embed_steps)
    batch = await file_batch(stubs, store.id, batch.id)
    counts = batch.file_counts
    assert batch.status == vs_pb2.FILE_BATCH_STATUS_COMPLETED
    assert (counts.completed, counts.failed, counts.in_progress, counts.total) == (3, 0, 0, 3)
    store = (await stubs.stores.GetVectorStore(vs_pb2.GetVectorStoreRequest(vector_store_id=store.id))).vector_store
    assert store.usage_bytes > 0 and store.file_counts.completed == 3

    async def search(query: str, mode: int = 0, flt: str = "") -> list[common_pb2.SearchHit]:
        return list(
            (
                await stubs.stores.SearchVectorStore(
                    vs_pb2.SearchVectorStoreRequest(
                        vector_store_id=store.id,
                        query=query,
                        max_num_results=3,
                        filter=flt,
                        ranking_options=common_pb2.RankingOptions(mode=mode),
                    )
                )
            ).hits
        )

    dense = await search("which animal has three hearts", common_pb2.RANKING_MODE_DENSE)
    assert dense[0].file_name == "animals.txt" and "three hearts" in dense[0].text
    keyword = await search("pulsars", common_pb2.RANKING_MODE_KEYWORD)
    assert keyword[0].file_name == "astronomy.md"
    hybrid = await search("tomato watering")
    assert hybrid[0].file_name == "garden.docx" and hybrid[0].attributes["shelf"] == "science"
    assert hybrid[0].position.char_end > hybrid[0].position.char_start
    only_md = await search("stars", common_pb2.RANKING_MODE_DENSE, flt='file_name = "astronomy.md"')
    assert {h.file_name for h in only_md} == {"astronomy.md"}
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await search("x", flt="file_name = ")
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_details(err.value)["violations"][0][0] == "filter"

    # Re-adding a file never duplicates its vectors; removing it deletes them.
    again = await wait(
        pipeline,
        (
            await stubs.stores.AddFilesToVectorStore(
                vs_pb2.AddFilesToVectorStoreRequest(vector_store_id=store.id, file_ids=[animals.id])
            )
        ).job.id,
    )
    assert again.status == job_pb2.JOB_STATUS_SUCCEEDED
    index = await pipeline.app.indexing.ready()
    count = await index.count_chunks(pipeline.key.project_id, store.id, animals.id)
    vs_file = (
        await stubs.stores.GetVectorStoreFile(
            vs_pb2.GetVectorStoreFileRequest(vector_store_id=store.id, file_id=animals.id)
        )
    ).file
    assert count == vs_file.chunk_count > 0
    await stubs.stores.DeleteVectorStoreFile(
        vs_pb2.DeleteVectorStoreFileRequest(vector_store_id=store.id, file_id=animals.id)
    )
    assert await index.count_chunks(pipeline.key.project_id, store.id, animals.id) == 0
    assert all(h.file_name != "animals.txt" for h in await search("octopus hearts", common_pb2.RANKING_MODE_DENSE))


async def test_upload_rules(pipeline: Server) -> None:
    stubs = pipeline.stubs()
    kb = (await stubs.kbs.CreateKnowledgeBase(kb_pb2.CreateKnowledgeBaseRequest(name="rules"))).knowledge_base
    await upload(stubs, kb.id, "a.txt", b"hello")
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await upload(stubs, kb.id, "a.txt", b"again")
    assert err.value.code() == grpc.StatusCode.ALREADY_EXISTS and error_details(err.value)["reason"] == "NAME_TAKEN"
    await stubs.kbs.CreateDirectory(kb_pb2.CreateDirectoryRequest(kb_id=kb.id, path="reports"))
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await upload(stubs, kb.id, "reports", b"a file named like a folder")
    assert err.value.code() == grpc.StatusCode.ALREADY_EXISTS
    for bad_name in ("..", "a/b", ""):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await upload(stubs, kb.id, bad_name, b"x")
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.aio.AioRpcError) as err:  # neither content nor url
        await upload(stubs, kb.id, "nothing.txt", None)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.aio.AioRpcError) as err:  # both
        await upload(stubs, kb.id, "both.txt", b"x", url="http://127.0.0.1:9/x")
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await upload(stubs, kb.id, "big.bin", b"x" * 2_100_000, chunk_size=500_000)
    assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED and "2000000" in err.value.details()
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await upload(stubs, kb.id, "sum.txt", b"abc", sha256="0" * 64)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    # Unsupported types are stored and skipped, never rejected; parse=false stores as-is.
    mp3 = await upload(stubs, kb.id, "song.mp3", b"ID3\x04" + b"\x00" * 64)
    assert mp3.file.parse_state == kb_pb2.PARSE_STATE_SKIPPED and not mp3.HasField("parse_job")
    raw = await upload(stubs, kb.id, "raw.txt", b"keep me", parse=False)
    assert raw.file.parse_state == kb_pb2.PARSE_STATE_SKIPPED
    # Same content twice is stored once.
    twin = await upload(stubs, kb.id, "twin.txt", b"hello")
    first = (await stubs.kbs.ListFiles(kb_pb2.ListFilesRequest(kb_id=kb.id))).files[0]
    assert twin.file.uid == first.uid
    # Empty files fail their parse with a reason; the server keeps serving.
    empty = await upload(stubs, kb.id, "empty.txt", b"")
    job = await wait(pipeline, empty.parse_job.id)
    assert job.status == job_pb2.JOB_STATUS_FAILED and job.error.code == "EMPTY_FILE"
    got = (await stubs.kbs.GetFile(kb_pb2.GetFileRequest(file_id=empty.file.id))).file
    assert got.parse_state == kb_pb2.PARSE_STATE_FAILED and got.parse_error.code == "EMPTY_FILE"


@pytest.fixture
def http_server() -> Iterator[str]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/doc.html":
                body = b"<html><head><title>Fetched</title></head><body><nav>menu</nav><p>Fetched page text.</p></body></html>"
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            elif self.path == "/hop":
                self.send_response(302)
                self.send_header("Location", f"http://127.0.0.2:{self.server.server_address[1]}/doc.html")
                self.end_headers()
            else:
                self.send_error(404)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


async def test_upload_by_url_is_fetched_under_the_ssrf_policy(pipeline: Server, http_server: str) -> None:
    stubs = pipeline.stubs()
    kb = (await stubs.kbs.CreateKnowledgeBase(kb_pb2.CreateKnowledgeBaseRequest(name="web"))).knowledge_base
    reply = await upload(stubs, kb.id, "page.html", None, url=f"{http_server}/doc.html")
    assert reply.file.url.endswith("/doc.html") and reply.file.content_type == "text/html"
    job = await wait(pipeline, reply.parse_job.id)
    assert job.status == job_pb2.JOB_STATUS_SUCCEEDED
    for url, code in [
        (f"{http_server}/hop", "URL_NOT_ALLOWED"),  # redirect to a loopback address outside the allowlist
        ("http://169.254.169.254/latest/meta-data/", "URL_NOT_ALLOWED"),
        ("http://3232235521/", "URL_NOT_ALLOWED"),  # 192.168.0.1 written as one decimal number
        ("ftp://127.0.0.1/x", "INVALID_URL"),
    ]:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await upload(stubs, kb.id, "bad.html", None, url=url)
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT, url
        assert error_details(err.value)["reason"] == code
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await upload(stubs, kb.id, "missing.html", None, url=f"{http_server}/nope")
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION and "404" in err.value.details()


async def test_cancel_file_batch_leaves_nothing_half_inserted(pipeline: Server) -> None:
    stubs = pipeline.stubs()
    kb = (await stubs.kbs.CreateKnowledgeBase(kb_pb2.CreateKnowledgeBaseRequest(name="many"))).knowledge_base
    text = " ".join(f"Sentence number {i} talks about topic {i % 17}." for i in range(3000)).encode()
    files = []
    for i in range(4):
        reply = await upload(stubs, kb.id, f"long{i}.txt", text + str(i).encode(), chunk_size=65536)
        await wait(pipeline, reply.parse_job.id)
        files.append(reply.file.id)
    store = (
        await stubs.stores.CreateVectorStore(
            vs_pb2.CreateVectorStoreRequest(
                name="cancel-me",
                chunking_strategy=common_pb2.ChunkingStrategy(max_chunk_size_tokens=32, chunk_overlap_tokens=0),
            )
        )
    ).vector_store
    batch = (
        await stubs.stores.CreateFileBatch(vs_pb2.CreateFileBatchRequest(vector_store_id=store.id, file_ids=files))
    ).file_batch
    async with VecflowClient(pipeline.address, pipeline.key.secret) as client:
        async for event in client.watch_job(batch.job_id):
            if event.step == "embed" and event.status == job_pb2.STEP_STATUS_PROGRESS:
                break
    cancelled = (
        await stubs.stores.CancelFileBatch(vs_pb2.CancelFileBatchRequest(vector_store_id=store.id, batch_id=batch.id))
    ).file_batch
    assert cancelled.id == batch.id
    job = await wait(pipeline, batch.job_id)
    assert job.status == job_pb2.JOB_STATUS_CANCELLED
    batch = await file_batch(stubs, store.id, batch.id)
    counts = batch.file_counts
    assert batch.status == vs_pb2.FILE_BATCH_STATUS_CANCELLED
    assert counts.in_progress == 0 and counts.cancelled >= 1
    assert counts.completed + counts.failed + counts.cancelled == counts.total == 4
    index = await pipeline.app.indexing.ready()
    listed = (
        await stubs.stores.ListFileBatchFiles(
            vs_pb2.ListFileBatchFilesRequest(vector_store_id=store.id, batch_id=batch.id)
        )
    ).files
    for f in listed:
        stored = await index.count_chunks(pipeline.key.project_id, store.id, f.file_id)
        if f.status == vs_pb2.VECTOR_STORE_FILE_STATUS_COMPLETED:
            assert stored == f.chunk_count > 0
        else:
            assert stored == 0, f"{f.file_id} ({f.status}) left {stored} vectors behind"
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stubs.stores.CancelFileBatch(vs_pb2.CancelFileBatchRequest(vector_store_id=store.id, batch_id=batch.id))
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION


async def test_batch_limits_and_unparsed_files(tmp_path: Path, sqlite_url: str) -> None:
    srv = await start_server(tmp_path, sqlite_url, max_batch_files=2)
    try:
        stubs = srv.stubs()
        kb = (await stubs.kbs.CreateKnowledgeBase(kb_pb2.CreateKnowledgeBaseRequest(name="lim"))).knowledge_base
        raw = await upload(stubs, kb.id, "raw.txt", b"not parsed", parse=False)
        store = (await stubs.stores.CreateVectorStore(vs_pb2.CreateVectorStoreRequest(name="s"))).vector_store
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await stubs.stores.CreateFileBatch(
                vs_pb2.CreateFileBatchRequest(vector_store_id=store.id, file_ids=["file_a", "file_b", "file_c"])
            )
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "at most 2" in err.value.details()
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await stubs.stores.CreateFileBatch(
                vs_pb2.CreateFileBatchRequest(vector_store_id=store.id, file_ids=[raw.file.id])
            )
        assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert error_details(err.value)["reason"] == "FILE_NOT_PARSED"
        await asyncio.sleep(0)
    finally:
        await srv.close()


async def test_a_batch_may_name_files_still_being_parsed(tmp_path: Path, sqlite_url: str) -> None:
    """Files added right after upload are indexed as their parses finish; one whose parse fails ends
    failed with the parse's own error code, and a file whose parse job was cancelled before it ran too.
    One worker: the batch job waits for the parse jobs without holding the only worker slot."""
    srv = await start_server(tmp_path, sqlite_url, workers=1, job_plugins=("helpers.job_plugins:register",))
    try:
        stubs = srv.stubs()
        # Everything below queues behind this job, so every parse is still to come when the batch is made.
        await srv.app.engine.submit(srv.key.project_id, "test.idle", params={"seconds": 1.5})
        kb = (await stubs.kbs.CreateKnowledgeBase(kb_pb2.CreateKnowledgeBaseRequest(name="eager"))).knowledge_base
        texts = {f"note{i}.txt": f"Note {i}: " + " ".join(f"otter fact {i}.{j}." for j in range(40)) for i in range(3)}
        replies = [await upload(stubs, kb.id, name, text.encode()) for name, text in texts.items()]
        replies.append(await upload(stubs, kb.id, "empty.txt", b""))
        never = await upload(stubs, kb.id, "never.txt", b"this file's parse is cancelled before it runs")
        assert all(r.file.parse_state == kb_pb2.PARSE_STATE_PENDING for r in replies)
        store = (await stubs.stores.CreateVectorStore(vs_pb2.CreateVectorStoreRequest(name="eager"))).vector_store
        batch = (
            await stubs.stores.CreateFileBatch(
                vs_pb2.CreateFileBatchRequest(vector_store_id=store.id, file_ids=[r.file.id for r in [*replies, never]])
            )
        ).file_batch
        assert batch.file_counts.in_progress == batch.file_counts.total == 5
        await stubs.jobs.CancelJob(job_service_pb2.CancelJobRequest(job_id=never.parse_job.id))
        job = await wait(srv, batch.job_id)
        assert job.status == job_pb2.JOB_STATUS_SUCCEEDED, job.error
        batch = await file_batch(stubs, store.id, batch.id)
        counts = batch.file_counts
        assert batch.status == vs_pb2.FILE_BATCH_STATUS_COMPLETED
        assert (counts.completed, counts.failed, counts.in_progress, counts.total) == (3, 2, 0, 5)
        files = {
            f.file_id: f
            for f in (
                await stubs.stores.ListVectorStoreFiles(vs_pb2.ListVectorStoreFilesRequest(vector_store_id=store.id))
            ).files
        }
        assert files[replies[3].file.id].last_error.code == "EMPTY_FILE"
        assert files[never.file.id].last_error.code == "CANCELLED"
        for reply in replies[:3]:
            parsed = (await stubs.kbs.GetFile(kb_pb2.GetFileRequest(file_id=reply.file.id))).file
            assert files[reply.file.id].chunk_count >= 1
            assert files[reply.file.id].parse_result_id == parsed.parse_result_id != ""
        hits = (
            await stubs.stores.SearchVectorStore(
                vs_pb2.SearchVectorStoreRequest(vector_store_id=store.id, query="otter fact 2.7", max_num_results=3)
            )
        ).hits
        assert hits and hits[0].file_id == replies[2].file.id
    finally:
        await srv.close()


async def test_jobs_cancelled_before_they_ran_leave_their_resources_consistent(tmp_path: Path, sqlite_url: str) -> None:
    """CancelJob on a queued parse, file-batch or upsert job: the file, batch and task say so (they would
    otherwise stay pending forever, as no handler ever ran)."""
    srv = await start_server(tmp_path, sqlite_url, workers=1, job_plugins=("helpers.job_plugins:register",))
    try:
        stubs = srv.stubs()
        blocker = await srv.app.engine.submit(srv.key.project_id, "test.idle", params={"seconds": 30})
        kb = (await stubs.kbs.CreateKnowledgeBase(kb_pb2.CreateKnowledgeBaseRequest(name="queued"))).knowledge_base
        reply = await upload(stubs, kb.id, "queued.txt", b"waiting behind the blocker")
        store = (await stubs.stores.CreateVectorStore(vs_pb2.CreateVectorStoreRequest(name="queued"))).vector_store
        batch = (
            await stubs.stores.CreateFileBatch(
                vs_pb2.CreateFileBatchRequest(vector_store_id=store.id, file_ids=[reply.file.id])
            )
        ).file_batch
        item = tasks_pb2.UpsertionItem(object_id="o1")
        item.payload.update({"text": "queued item"})
        task = (
            await stubs.tasks.CreateUpsertionTask(tasks_pb2.CreateUpsertionTaskRequest(items=[item]))
        ).upsertion_task
        for job_id in (batch.job_id, reply.parse_job.id, task.job_id):
            cancelled = await stubs.jobs.CancelJob(job_service_pb2.CancelJobRequest(job_id=job_id))
            assert cancelled.job.status == job_pb2.JOB_STATUS_CANCELLED
        batch = await file_batch(stubs, store.id, batch.id)
        assert batch.status == vs_pb2.FILE_BATCH_STATUS_CANCELLED
        assert (batch.file_counts.cancelled, batch.file_counts.in_progress) == (1, 0)
        parsed = (await stubs.kbs.GetFile(kb_pb2.GetFileRequest(file_id=reply.file.id))).file
        assert parsed.parse_state == kb_pb2.PARSE_STATE_FAILED and parsed.parse_error.code == "CANCELLED"
        task = (await stubs.tasks.GetUpsertionTask(tasks_pb2.GetUpsertionTaskRequest(task_id=task.id))).upsertion_task
        assert task.status == tasks_pb2.UPSERTION_TASK_STATUS_CANCELED
        await srv.app.engine.cancel(srv.key.project_id, blocker.id)
    finally:
        await srv.close()
