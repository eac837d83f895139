"""File contents and parse results on S3 (VECFLOW_BLOB_URL=s3://BUCKET/PREFIX), against a moto S3 server on loopback
in its own process (so that its memory is not the server's): the whole pipeline through the real gRPC API,
uploads streamed as multipart uploads with flat memory, interrupted uploads aborted without a trace, and
deleted contents reclaimed from the bucket."""

from __future__ import annotations

import asyncio
import gc
import hashlib
import os
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import grpc
import pytest
from helpers.s3 import moto_server
from helpers.server import Server, start_server
from test_knowledge_bases import expect_error
from test_lifecycle import GARDEN, found_files, purge_jobs_done, store_with
from test_pipeline import ANIMALS, upload, wait
from vecflow_client.v1 import job_pb2
from vecflow_client.v1 import knowledge_base_service_pb2 as kb_pb2
from vecflow_client.v1 import vector_store_service_pb2 as vs_pb2

pytest.importorskip("moto", reason="moto[server] is in the dev extra: pip install -e '.[dev]'")

MIB = 1024 * 1024


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    """`moto_server` on a free loopback port, for this module."""
    with moto_server() as endpoint:
        yield endpoint


@dataclass
class Bucket:
    """A fresh bucket on the moto server, and a client to look into it."""

    name: str
    client: Any

    def url(self, prefix: str = "vf") -> str:
        return f"s3://{self.name}/{prefix}"

    def keys(self, prefix: str = "") -> dict[str, int]:
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.name, Prefix=prefix)
        return {o["Key"]: o["Size"] for page in pages for o in page.get("Contents", [])}

    def uploads(self) -> list[str]:
        return [u["Key"] for u in self.client.list_multipart_uploads(Bucket=self.name).get("Uploads", [])]

    def content(self, key: str) -> bytes:
        return bytes(self.client.get_object(Bucket=self.name, Key=key)["Body"].read())


@pytest.fixture
def bucket(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Bucket:
    """The standard AWS variables pointed at moto (the server reads them from its environment), and a new bucket."""
    for name, value in {
        "AWS_ENDPOINT_URL": moto_endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "us-east-1",
        "AWS_CONFIG_FILE": str(tmp_path / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-aws-credentials"),
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    client = boto3.session.Session().client("s3", region_name="us-east-1")
    name = f"vf-{os.urandom(6).hex()}"
    client.create_bucket(Bucket=name)
    return Bucket(name, client)


async def s3_server(tmp_path: Path, database_url: str, bucket: Bucket, **settings: Any) -> Server:
    return await start_server(tmp_path, database_url, blob_url=bucket.url(), **settings)


async def eventually(check: Any, what: str) -> None:
    for _ in range(200):
        if check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(what)


@pytest.fixture
def web() -> Iterator[str]:
    """A loopback HTTP server with one document, for URL uploads."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = GARDEN.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/garden.txt"
    finally:
        httpd.shutdown()
        httpd.server_close()


async def test_upload_parse_index_search_delete_and_reclaim_on_s3(
    tmp_path: Path, database_url: str, bucket: Bucket, web: str
) -> None:
    srv = await s3_server(
        tmp_path, database_url, bucket, fetch_allow_hosts=("127.0.0.1/32",), sweep_seconds=0.1, content_grace_seconds=0
    )
    try:
        stubs = srv.stubs()
        kb = (await stubs.kbs.CreateKnowledgeBase(kb_pb2.CreateKnowledgeBaseRequest(name="s3"))).knowledge_base
        streamed = await upload(stubs, kb.id, "animals.txt", ANIMALS.encode())
        fetched = await upload(stubs, kb.id, "garden.txt", None, url=web)
        for reply in (streamed, fetched):
            job = await wait(srv, reply.parse_job.id)
            assert job.status == job_pb2.JOB_STATUS_SUCCEEDED, job.error
        files = {
            f.name: f for f in (await stubs.kbs.ListFiles(kb_pb2.ListFilesRequest(kb_id=kb.id, page_size=10))).files
        }
        animals, garden = files["animals.txt"], files["garden.txt"]
        assert animals.uid == hashlib.sha256(ANIMALS.encode()).hexdigest()
        assert bucket.content(f"vf/blobs/{animals.uid}") == ANIMALS.encode()
        assert bucket.content(f"vf/blobs/{garden.uid}") == GARDEN.encode()
        assert set(bucket.keys()) == {
            f"vf/blobs/{animals.uid}",
            f"vf/blobs/{garden.uid}",
            f"vf/parsed/{animals.parse_result_id}.json",
            f"vf/parsed/{garden.parse_result_id}.json",
        }
        data = tmp_path / "data"
        assert not (data / "blobs").exists() and not (data / "parsed").exists(), "nothing on the local disk"
        assert list((data / "tmp").iterdir()) == [], "downloads for parsing and fetched files are deleted"

        store_id = await store_with(srv, "s3", [animals.id, garden.id])  # chunks read from the stored results
        assert await found_files(srv, store_id, "octopus arms") == {animals.id, garden.id}
        hits = (
            await stubs.stores.SearchVectorStore(
                vs_pb2.SearchVectorStoreRequest(vector_store_id=store_id, query="octopus arms", max_num_results=1)
            )
        ).hits
        assert [h.file_id for h in hits] == [animals.id]

        await stubs.kbs.DeleteFile(kb_pb2.DeleteFileRequest(file_id=animals.id))
        await purge_jobs_done(srv)
        assert f"vf/parsed/{animals.parse_result_id}.json" not in bucket.keys(), "purged with its file"
        await eventually(lambda: f"vf/blobs/{animals.uid}" not in bucket.keys(), "the content was not reclaimed")
        assert f"vf/blobs/{garden.uid}" in bucket.keys(), "garden.txt still references its content"
    finally:
        await srv.close()


async def test_large_uploads_go_up_in_parts_and_the_same_content_is_stored_once(
    tmp_path: Path, sqlite_url: str, bucket: Bucket
) -> None:
    srv = await s3_server(tmp_path, sqlite_url, bucket)
    try:
        stubs = srv.stubs()
        kb = (await stubs.kbs.CreateKnowledgeBase(kb_pb2.CreateKnowledgeBaseRequest(name="big"))).knowledge_base
        content = os.urandom(19 * MIB + 12345)  # three full 5 MiB parts and a short one
        first = await upload(stubs, kb.id, "a.bin", content, parse=False, chunk_size=MIB + 7)
        key = f"vf/blobs/{hashlib.sha256(content).hexdigest()}"
        assert first.file.uid == hashlib.sha256(content).hexdigest() and first.file.content_length == len(content)
        assert bucket.keys() == {key: len(content)}, "the temp object is deleted once copied"
        assert bucket.content(key) == content
        written = bucket.client.head_object(Bucket=bucket.name, Key=key)["LastModified"]

        await asyncio.sleep(1.1)  # LastModified counts whole seconds
        again = await upload(stubs, kb.id, "b.bin", content, parse=False, chunk_size=3 * MIB)
        assert again.file.uid == first.file.uid
        assert bucket.keys() == {key: len(content)}
        assert bucket.client.head_object(Bucket=bucket.name, Key=key)["LastModified"] > written, (
            "storing it again refreshes the time reclaiming goes by"
        )
        assert bucket.uploads() == []
    finally:
        await srv.close()


async def test_an_upload_cancelled_or_refused_midway_leaves_nothing_in_the_bucket(
    tmp_path: Path, sqlite_url: str, bucket: Bucket
) -> None:
    srv = await s3_server(tmp_path, sqlite_url, bucket, max_upload_bytes=40 * MIB)
    try:
        stubs = srv.stubs()
        kb = (await stubs.kbs.CreateKnowledgeBase(kb_pb2.CreateKnowledgeBaseRequest(name="cut"))).knowledge_base
        hold = asyncio.Event()

        async def messages(total: int, stop_after: int | None = None) -> AsyncIterator[kb_pb2.UploadFileRequest]:
            metadata = kb_pb2.UploadFileMetadata(kb_id=kb.id, name="cut.bin", parse=False)
            yield kb_pb2.UploadFileRequest(metadata=metadata)
            for sent in range(0, total, MIB):
                if stop_after is not None and sent >= stop_after:
                    await hold.wait()  # the client goes quiet, with parts uploaded
                yield kb_pb2.UploadFileRequest(chunk=os.urandom(MIB))

        call = stubs.kbs.UploadFile(messages(64 * MIB, stop_after=20 * MIB))
        await eventually(lambda: bucket.uploads() != [], "no multipart upload was started")
        await eventually(
            lambda: bucket.client.list_parts(
                Bucket=bucket.name, Key=bucket.uploads()[0], UploadId=_upload_id(bucket)
            ).get("Parts"),
            "no part was uploaded",
        )
        call.cancel()  # the client disconnects
        with pytest.raises(asyncio.CancelledError):
            await call
        await eventually(lambda: bucket.uploads() == [], "the multipart upload was not aborted")
        assert bucket.keys() == {}

        # Past the size limit: refused, and aborted the same way.
        await expect_error(stubs.kbs.UploadFile(messages(41 * MIB)), grpc.StatusCode.RESOURCE_EXHAUSTED)
        await eventually(lambda: bucket.uploads() == [], "the refused upload was not aborted")
        assert bucket.keys() == {}
    finally:
        await srv.close()


def _upload_id(bucket: Bucket) -> str:
    return str(bucket.client.list_multipart_uploads(Bucket=bucket.name)["Uploads"][0]["UploadId"])


def _rss() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


async def test_a_64_mib_upload_keeps_the_server_memory_flat(tmp_path: Path, sqlite_url: str, bucket: Bucket) -> None:
    """The server is in this process: its peak RSS while 64 MiB stream through it in 1 MiB messages (sampled every
    2 ms) stays far below the upload's size: a few parts in flight, never the whole content."""
    srv = await s3_server(tmp_path, sqlite_url, bucket)
    try:
        stubs = srv.stubs()
        kb = (await stubs.kbs.CreateKnowledgeBase(kb_pb2.CreateKnowledgeBaseRequest(name="mem"))).knowledge_base
        block = os.urandom(MIB)

        async def messages(name: str, total: int) -> AsyncIterator[kb_pb2.UploadFileRequest]:
            yield kb_pb2.UploadFileRequest(metadata=kb_pb2.UploadFileMetadata(kb_id=kb.id, name=name, parse=False))
            for n in range(total // MIB):
                yield kb_pb2.UploadFileRequest(chunk=n.to_bytes(8, "big") + block[8:])

        await stubs.kbs.UploadFile(messages("warm-up.bin", 24 * MIB))  # boto3's and gRPC's first-use allocations
        gc.collect()
        before = peak = _rss()
        done = threading.Event()

        def sample() -> None:
            nonlocal peak
            while not done.wait(0.002):
                peak = max(peak, _rss())

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        try:
            reply = await stubs.kbs.UploadFile(messages("big.bin", 64 * MIB))
        finally:
            done.set()
            sampler.join()
        assert reply.file.content_length == 64 * MIB
        assert f"vf/blobs/{reply.file.uid}" in bucket.keys()
        growth = (peak - before) / MIB
        assert growth < 48, f"RSS grew by {growth:.1f} MiB while 64 MiB streamed to S3"
    finally:
        await srv.close()
