"""Hostile files through a real server: each ends in a clear parse code inside the parse memory budget, the
server's own memory stays where it was, and the API answers while a long parse runs in its worker process.

Sizes are small and limits lowered so that the suite stays fast; bench/hostile.py runs the full-size files
against the default limits and prints peak RSS and API latency.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from helpers import hostile_files as hf
from helpers.server import Server, start_server
from test_pipeline import upload, wait
from vecflow.pipeline.detect import DOCX
from vecflow.pipeline.parse_worker import rss_bytes
from vecflow_client.v1 import job_pb2, job_service_pb2
from vecflow_client.v1 import knowledge_base_service_pb2 as kb_pb2

MIB = 1024 * 1024
BUDGET = 128 * MIB


@pytest.fixture
async def hostile(tmp_path: Path, sqlite_url: str) -> AsyncIterator[Server]:
    srv = await start_server(
        tmp_path,
        sqlite_url,
        parse_workers=2,
        parse_memory_bytes=BUDGET,
        parse_max_characters=1_000_000,
        parse_max_expanded_bytes=32 * MIB,
        max_upload_bytes=64 * MIB,
    )
    try:
        yield srv
    finally:
        await srv.close()


async def knowledge_base(srv: Server) -> str:
    stubs = srv.stubs()
    reply = await stubs.kbs.CreateKnowledgeBase(kb_pb2.CreateKnowledgeBaseRequest(name="hostile"))
    return str(reply.knowledge_base.id)


async def parse_code(srv: Server, kb_id: str, name: str, content: bytes, content_type: str = "") -> str:
    """Upload and parse a file; the code its parse ended with ("" when it parsed)."""
    stubs = srv.stubs()
    reply = await upload(stubs, kb_id, name, content, parse=True, chunk_size=1 * MIB, content_type=content_type)
    job = await wait(srv, reply.parse_job.id)
    got = (await stubs.kbs.GetFile(kb_pb2.GetFileRequest(file_id=reply.file.id))).file
    if job.status == job_pb2.JOB_STATUS_SUCCEEDED:
        assert got.parse_state == kb_pb2.PARSE_STATE_SUCCESS
        return ""
    assert job.status == job_pb2.JOB_STATUS_FAILED, job
    assert got.parse_state == kb_pb2.PARSE_STATE_FAILED and got.parse_error.code == job.error.code
    assert got.parse_error.message, "a failed parse says why"
    return str(job.error.code)


async def warm_idle(srv: Server, kb_id: str) -> int:
    """The server's RSS once the first parse has loaded what every parse needs (the model's tokenizer)."""
    assert await parse_code(srv, kb_id, "warm.txt", b"the first parse loads the tokenizer\n") == ""
    return rss_bytes(os.getpid())


async def test_zip_bombs_and_lying_members_end_in_a_code_not_in_the_servers_memory(hostile: Server) -> None:
    kb_id = await knowledge_base(hostile)
    expands, lying = hf.docx_with_body_bytes(40 * MIB), hf.docx_lying_member(20 * MIB)
    idle = await warm_idle(hostile, kb_id)
    # Unpacks (as read) past the expansion limit: refused before python-docx reads it.
    assert await parse_code(hostile, kb_id, "expands.docx", expands, DOCX) == "DOCUMENT_TOO_LARGE"
    # Its headers claim 4 KiB; it unpacks to 20 MiB: the CRC check of the measured read catches it.
    assert await parse_code(hostile, kb_id, "lying.docx", lying, DOCX) == "CORRUPT_FILE"
    grown = rss_bytes(os.getpid()) - idle
    assert grown < 64 * MIB, f"the server grew by {grown / MIB:.0f} MiB: parsing must happen in the worker"
    # Still serving, and a real DOCX still parses.
    assert await parse_code(hostile, kb_id, "fine.docx", hf.docx_with_body_bytes(200_000), DOCX) == ""


async def test_a_document_over_the_memory_budget_stops_its_worker(tmp_path: Path, sqlite_url: str) -> None:
    """Under the expansion limit, but its XML tree needs far more than the budget: the worker is killed."""
    srv = await start_server(
        tmp_path, sqlite_url, parse_workers=1, parse_memory_bytes=BUDGET, parse_max_expanded_bytes=1024 * MIB
    )
    try:
        kb_id = await knowledge_base(srv)
        tree = hf.docx_with_body_bytes(60 * MIB)
        idle = await warm_idle(srv, kb_id)
        (worker,) = srv.app.parser._idle
        code = await parse_code(srv, kb_id, "tree.docx", tree, DOCX)
        assert code == "PARSE_MEMORY_EXCEEDED"
        assert rss_bytes(os.getpid()) - idle < 64 * MIB
        assert worker.process.returncode is not None, "the worker that ran over was stopped"
        assert worker not in srv.app.parser._idle, srv.app.parser._idle
        # The next parse gets a fresh worker.
        assert await parse_code(srv, kb_id, "after.txt", b"a normal file after the bomb\n") == ""
    finally:
        await srv.close()


async def test_huge_text_is_refused_by_the_character_limit(hostile: Server) -> None:
    kb_id = await knowledge_base(hostile)
    # Over 4 bytes per allowed character: refused before it is read.
    assert await parse_code(hostile, kb_id, "line.txt", hf.one_line_text(5_000_000)) == "DOCUMENT_TOO_LARGE"
    # Read and decoded, then over the limit.
    assert await parse_code(hostile, kb_id, "line2.txt", hf.one_line_text(2_000_000)) == "DOCUMENT_TOO_LARGE"
    # Just under the limit: one 900,000-character line parses and is counted.
    assert await parse_code(hostile, kb_id, "line3.txt", hf.one_line_text(900_000)) == ""


async def test_deeply_nested_pdfs_parse_or_say_corrupt(hostile: Server) -> None:
    kb_id = await knowledge_base(hostile)
    assert await parse_code(hostile, kb_id, "deep-font.pdf", hf.pdf_deep_font()) == ""
    assert await parse_code(hostile, kb_id, "deep-contents.pdf", hf.pdf_deep_contents()) == "CORRUPT_FILE"


async def test_the_api_answers_during_a_long_parse_and_cancel_stops_the_worker(hostile: Server) -> None:
    stubs = hostile.stubs()
    kb_id = await knowledge_base(hostile)
    reply = await upload(stubs, kb_id, "long.pdf", hf.pdf_pages(20_000), parse=True, chunk_size=1 * MIB)
    job_id = reply.parse_job.id
    for _ in range(200):  # wait until the parse runs in a worker
        if hostile.app.parser._busy:
            break
        await asyncio.sleep(0.05)
    (worker,) = hostile.app.parser._busy
    assert worker.process.pid != os.getpid()
    for _ in range(20):  # unary calls are answered while the worker parses
        got = await stubs.kbs.GetKnowledgeBase(kb_pb2.GetKnowledgeBaseRequest(kb_id=kb_id))
        assert got.knowledge_base.id == kb_id
    running = (await stubs.jobs.GetJob(job_service_pb2.GetJobRequest(job_id=job_id))).job
    assert running.status == job_pb2.JOB_STATUS_RUNNING, "the 20 calls were answered while the parse ran"
    await stubs.jobs.CancelJob(job_service_pb2.CancelJobRequest(job_id=job_id))
    job = await wait(hostile, job_id)
    assert job.status == job_pb2.JOB_STATUS_CANCELLED
    assert worker.process.returncode is not None, "cancelling the job stopped its worker"
    got = (await stubs.kbs.GetFile(kb_pb2.GetFileRequest(file_id=reply.file.id))).file
    assert got.parse_state == kb_pb2.PARSE_STATE_FAILED and got.parse_error.code == "CANCELLED"


async def test_a_parse_past_its_time_limit_fails_with_parse_timeout(tmp_path: Path, sqlite_url: str) -> None:
    srv = await start_server(tmp_path, sqlite_url, parse_workers=1, parse_timeout_seconds=1.0)
    try:
        kb_id = await knowledge_base(srv)
        assert await parse_code(srv, kb_id, "slow.pdf", hf.pdf_pages(20_000)) == "PARSE_TIMEOUT"
        assert await parse_code(srv, kb_id, "quick.txt", b"quick to parse\n") == ""
    finally:
        await srv.close()
