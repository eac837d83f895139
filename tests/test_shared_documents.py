"""The 38 shared real-world documents through the service: each upload ends in the state its kind
deserves (with the reason when it fails), and the parsed ones go into a vector store via a file batch.

Skipped, with the reason, where ../shared/data/docs is absent.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from helpers.server import Server, start_server
from test_parsing import ABSENT_REASON, MANIFEST, OUTCOMES, SHARED_DOCS
from test_pipeline import file_batch, upload
from vecflow_client import VecflowClient
from vecflow_client.v1 import job_pb2
from vecflow_client.v1 import knowledge_base_service_pb2 as kb_pb2
from vecflow_client.v1 import parse_service_pb2 as parse_pb2
from vecflow_client.v1 import vector_store_service_pb2 as vs_pb2

BATCH_TEXT_LIMIT = 40_000  # characters; bigger parsed documents are left out of the (CPU-bound) embedding step


async def test_every_shared_document_ends_in_the_right_state(tmp_path: Path, sqlite_url: str) -> None:
    if not MANIFEST:
        pytest.skip(ABSENT_REASON)
    srv: Server = await start_server(tmp_path, sqlite_url, max_upload_bytes=64 * 1024 * 1024)
    try:
        stubs = srv.stubs()
        kb = (await stubs.kbs.CreateKnowledgeBase(kb_pb2.CreateKnowledgeBaseRequest(name="shared"))).knowledge_base
        replies = {}
        for entry in MANIFEST:
            data = (SHARED_DOCS / entry["file"]).read_bytes()
            replies[entry["file"]] = await upload(stubs, kb.id, entry["file"], data, chunk_size=256 * 1024)
        async with VecflowClient(srv.address, srv.key.secret) as client:
            jobs = await asyncio.gather(*(client.wait_job(r.parse_job.id) for r in replies.values()))
        by_name = dict(zip(replies, jobs, strict=True))
        parsed: list[str] = []
        for entry in MANIFEST:
            name = entry["file"]
            expected_state, expected_code = OUTCOMES[entry["type"]]
            file = (await stubs.kbs.GetFile(kb_pb2.GetFileRequest(file_id=replies[name].file.id))).file
            job = by_name[name]
            history = [e.step for e in job.history]
            assert history[0] == "queued" and history[-1] == "job", name
            if expected_state == "ok":
                assert job.status == job_pb2.JOB_STATUS_SUCCEEDED, f"{name}: {job.error.code} {job.error.message}"
                assert file.parse_state == kb_pb2.PARSE_STATE_SUCCESS, name
                result = (
                    await stubs.parse.GetParseResult(
                        parse_pb2.GetParseResultRequest(parse_result_id=file.parse_result_id)
                    )
                ).parse_result
                assert result.characters > 0 and result.tokens > 0 and result.pages >= 1, name
                if entry["type"] == "pdf-scanned-no-text-layer":  # read by OCR, page by page
                    assert result.ocr_pages == result.pages and "rapidocr" in result.parser, name
                    words = [w for w in result.text_preview.split() if w.isalpha()]
                    assert len(words) >= 50, f"{name}: {result.text_preview}"
                parse_step = next(
                    e for e in job.history if e.step == "parse" and e.status == job_pb2.STEP_STATUS_SUCCEEDED
                )
                assert parse_step.details["characters"] == result.characters, name
                assert parse_step.details["tokens"] == result.tokens, name
                if result.characters <= BATCH_TEXT_LIMIT:
                    parsed.append(result.id)
            else:
                assert job.status == job_pb2.JOB_STATUS_FAILED, name
                assert job.error.code == expected_code, f"{name}: {job.error.code} {job.error.message}"
                assert len(job.error.message) > 20, name  # a sentence a person can act on
                assert file.parse_state == kb_pb2.PARSE_STATE_FAILED and file.parse_error.code == expected_code, name
                assert job.history[-1].details["error_code"] == expected_code, name
        assert len(parsed) >= 8

        store = (await stubs.stores.CreateVectorStore(vs_pb2.CreateVectorStoreRequest(name="shared"))).vector_store
        batch = (
            await stubs.stores.CreateFileBatch(
                vs_pb2.CreateFileBatchRequest(vector_store_id=store.id, parse_result_ids=parsed)
            )
        ).file_batch
        assert batch.file_counts.total == len(parsed)
        async with VecflowClient(srv.address, srv.key.secret) as client:
            job = await client.wait_job(batch.job_id)
        assert job.status == job_pb2.JOB_STATUS_SUCCEEDED, job.error
        batch = await file_batch(stubs, store.id, batch.id)
        counts = batch.file_counts
        assert batch.status == vs_pb2.FILE_BATCH_STATUS_COMPLETED
        assert (counts.completed, counts.failed, counts.cancelled, counts.in_progress) == (len(parsed), 0, 0, 0)
        files = (
            await stubs.stores.ListFileBatchFiles(
                vs_pb2.ListFileBatchFilesRequest(vector_store_id=store.id, batch_id=batch.id, page_size=100)
            )
        ).files
        assert all(f.status == vs_pb2.VECTOR_STORE_FILE_STATUS_COMPLETED and f.chunk_count > 0 for f in files)
    finally:
        await srv.close()
