"""A bucket of an S3-compatible store (AWS S3, MinIO, Ceph RGW, R2, GCS interoperability), reached with boto3.

boto3 is synchronous: every request runs on the bucket's own threads, and uploads stream as multipart
uploads of equal parts (several stores require that), a few in flight at once, so memory stays flat. An
upload that fails or is cancelled is aborted: its parts are waited for and thrown away, nothing stays.
Connection settings are the standard AWS ones (AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
AWS_REGION, the shared config files, …), read by botocore as every S3 tool does.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import mmap
import os
import threading
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from concurrent import futures
from pathlib import Path
from typing import Any, TypeVar

MIB = 1024 * 1024
PART_BYTES = 5 * MIB  # the smallest part S3 accepts (but for the last); bigger parts only for bigger uploads
MAX_PARTS = 10_000  # S3's limit of parts per upload
PARTS_IN_FLIGHT = 2  # per upload: memory is about (PARTS_IN_FLIGHT + 1) parts
SINGLE_COPY_BYTES = 5 * 1024 * MIB  # CopyObject's limit; larger objects are copied in parts
READ_BYTES = MIB  # downloads are read in pieces of this
SMALL_BYTES = MIB  # an upload's buffer grows up to this; past it, a part is a memory map of its whole size
THREADS = 32  # requests to the store at once, all uploads and reads together

T = TypeVar("T")
Body = bytes | bytearray | mmap.mmap  # a part: a whole one in a memory map (PartCutter), read from its start
log = logging.getLogger("vecflow.storage.s3")


def parse_url(url: str) -> tuple[str, str]:
    """`s3://BUCKET/PREFIX` → (bucket, key prefix ending in "/", or "")."""
    if not url.startswith("s3://"):
        raise ValueError(f"{url!r} is not an s3://BUCKET/PREFIX URL")
    bucket, _, prefix = url[len("s3://") :].partition("/")
    if not bucket:
        raise ValueError(f"{url!r} names no bucket (s3://BUCKET/PREFIX)")
    prefix = prefix.strip("/")
    return bucket, f"{prefix}/" if prefix else ""


def part_size(max_bytes: int) -> int:
    """Part size for uploads of up to `max_bytes`: PART_BYTES, or bigger (whole MiB) to stay within MAX_PARTS."""
    needed = -(-max_bytes // MAX_PARTS)
    return max(PART_BYTES, -(-needed // MIB) * MIB)


def s3_client(env: Mapping[str, str] | None = None) -> Any:
    """A boto3 S3 client configured from the standard AWS variables and files."""
    import boto3
    from botocore.config import Config

    env = os.environ if env is None else env
    options: dict[str, Any] = {"max_pool_connections": THREADS}
    # Stores other than AWS often refuse the checksums newer botocore adds by default; ask for them only when
    # the operation requires one, unless the AWS variables say otherwise. Contents are checked by sha256 anyway.
    if not env.get("AWS_REQUEST_CHECKSUM_CALCULATION"):
        options["request_checksum_calculation"] = "when_required"
    if not env.get("AWS_RESPONSE_CHECKSUM_VALIDATION"):
        options["response_checksum_validation"] = "when_required"
    region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or None  # botocore reads only the latter
    return boto3.session.Session().client("s3", region_name=region, config=Config(**options))


def missing(err: BaseException) -> bool:
    """Whether a botocore error says the object (or upload) does not exist."""
    code = str(getattr(err, "response", {}).get("Error", {}).get("Code", ""))
    return code in ("404", "NoSuchKey", "NotFound", "NoSuchUpload")


class S3Bucket:
    """A bucket and key prefix: blocking requests (call them through `run`), and streaming uploads."""

    def __init__(self, url: str, client: Any | None = None) -> None:
        self.url = url
        self.bucket, self.prefix = parse_url(url)
        self.client = client if client is not None else s3_client()
        self.executor = futures.ThreadPoolExecutor(THREADS, thread_name_prefix="vecflow-s3")

    def key(self, name: str) -> str:
        return self.prefix + name

    async def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a blocking call on the bucket's threads."""
        return await asyncio.wrap_future(self.executor.submit(fn, *args, **kwargs))

    def close(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)

    # Blocking requests ------------------------------------------------------------------------------

    def head(self, key: str) -> tuple[int, float] | None:
        """(size, last-modified time) of an object, or None when there is none."""
        try:
            reply = self.client.head_object(Bucket=self.bucket, Key=key)
        except Exception as err:
            if missing(err):
                return None
            raise
        return int(reply["ContentLength"]), reply["LastModified"].timestamp()

    def put(self, key: str, body: bytes | bytearray) -> None:
        self.client.put_object(Bucket=self.bucket, Key=key, Body=body)

    def get(self, key: str) -> bytes | None:
        """An object's whole content, or None when there is none."""
        try:
            reply = self.client.get_object(Bucket=self.bucket, Key=key)
        except Exception as err:
            if missing(err):
                return None
            raise
        with contextlib.closing(reply["Body"]) as body:
            return body.read()

    def download(self, key: str, path: Path, stop: threading.Event) -> bool:
        """Stream an object to a local file, READ_BYTES at a time; False when there is none. Stops (raising
        InterruptedError) once `stop` is set."""
        try:
            reply = self.client.get_object(Bucket=self.bucket, Key=key)
        except Exception as err:
            if missing(err):
                return False
            raise
        with contextlib.closing(reply["Body"]) as body, open(path, "wb") as out:
            for piece in body.iter_chunks(READ_BYTES):
                if stop.is_set():
                    raise InterruptedError("download stopped")
                out.write(piece)
        return True

    def copy(self, source: str, target: str, size: int) -> None:
        """Server-side copy of an object of `size` bytes (in parts past CopyObject's limit)."""
        if size <= SINGLE_COPY_BYTES:
            self.client.copy_object(Bucket=self.bucket, Key=target, CopySource={"Bucket": self.bucket, "Key": source})
            return
        from boto3.s3.transfer import TransferConfig

        config = TransferConfig(multipart_threshold=SINGLE_COPY_BYTES, multipart_chunksize=512 * MIB)
        self.client.copy({"Bucket": self.bucket, "Key": source}, self.bucket, target, Config=config)

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=key)

    def listing(self, prefix: str) -> Iterator[tuple[str, int, float]]:
        """(key, size, last-modified time) of every object under `prefix`."""
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
        for page in pages:
            for item in page.get("Contents", []):
                yield item["Key"], int(item["Size"]), item["LastModified"].timestamp()

    def abort_stale_uploads(self, before: float) -> int:
        """Abort the multipart uploads under the prefix started before `before` (a time.time()); how many."""
        aborted = 0
        pages = self.client.get_paginator("list_multipart_uploads").paginate(Bucket=self.bucket, Prefix=self.prefix)
        for page in pages:
            for upload in page.get("Uploads", []):
                if upload["Initiated"].timestamp() < before:
                    with contextlib.suppress(Exception):
                        self.client.abort_multipart_upload(
                            Bucket=self.bucket, Key=upload["Key"], UploadId=upload["UploadId"]
                        )
                        aborted += 1
        return aborted

    # Streaming uploads ------------------------------------------------------------------------------

    async def upload(self, key: str, parts: AsyncIterator[bytes | bytearray]) -> None:
        """Store the parts (equal sizes but the last, each ≥ 5 MiB but the last) as `key`: one PUT when there is
        only one, else a multipart upload, aborted if anything fails or the caller is cancelled."""
        first = await anext(parts, None)
        second = await anext(parts, None) if first is not None else None
        if second is None:
            await self.run(self.put, key, first or b"")
            return
        assert first is not None
        upload = MultipartUpload(self, key)
        try:
            await upload.send(first)
            await upload.send(second)
            async for part in parts:
                await upload.send(part)
            await upload.finish()
        except BaseException:
            await upload.cancel()
            raise

    async def upload_file(self, key: str, path: Path, max_bytes: int) -> None:
        """Store a local file as `key`, streamed in parts sized for files of up to `max_bytes`."""
        size = part_size(max_bytes)

        async def parts() -> AsyncIterator[bytes]:
            f = await self.run(lambda: path.open("rb"))
            try:
                while piece := await self.run(f.read, size):
                    yield piece
            finally:
                f.close()

        await self.upload(key, parts())


class PartCutter:
    """Cuts a stream of chunks into parts of exactly `size` bytes (the last one shorter), copying each byte once.
    A part is kept in a growing buffer up to SMALL_BYTES (most documents never get further), then in an anonymous
    memory map of the part's size, unmapped as soon as it is sent: heap buffers that large stay with the allocator
    once freed and, over many parts and threads, add up."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.small = bytearray()
        self.part: mmap.mmap | None = None

    def add(self, chunk: bytes) -> Iterator[Body]:
        """Take a chunk; yields the parts it completes."""
        view = memoryview(chunk)
        while view:
            if self.part is None:
                if len(self.small) + len(view) <= SMALL_BYTES:
                    self.small += view
                    return
                self.part = mmap.mmap(-1, self.size)
                self.part.write(self.small)
                self.small = bytearray()
            n = min(len(view), self.size - self.part.tell())
            self.part.write(view[:n])
            view = view[n:]
            if self.part.tell() == self.size:
                self.part.seek(0)
                yield self.part
                self.part = None

    def rest(self) -> bytes | bytearray:
        """What is left after the last full part (perhaps nothing)."""
        if self.part is None:
            return self.small
        rest = self.part[: self.part.tell()]
        self.part.close()
        self.part = None
        return rest


class MultipartUpload:
    """One multipart upload: parts go out on the bucket's threads, PARTS_IN_FLIGHT at most at once."""

    def __init__(self, bucket: S3Bucket, key: str) -> None:
        self.bucket = bucket
        self.key = key
        self.upload_id = ""
        self.creating: futures.Future[dict[str, Any]] | None = None
        self.parts: list[futures.Future[dict[str, Any]]] = []
        self.finishing: futures.Future[None] | None = None

    @property
    def started(self) -> bool:
        return bool(self.parts)

    async def send(self, body: Body) -> None:
        """Send the next part (the caller must not change `body` afterwards); waits while others are in flight."""
        b = self.bucket
        if self.creating is None:
            self.creating = b.executor.submit(b.client.create_multipart_upload, Bucket=b.bucket, Key=self.key)
            self.upload_id = (await asyncio.wrap_future(self.creating))["UploadId"]
        await self._in_flight(PARTS_IN_FLIGHT - 1)
        self.parts.append(b.executor.submit(self._part, len(self.parts) + 1, body))

    def _part(self, number: int, body: Body) -> dict[str, Any]:
        b = self.bucket
        try:
            reply = b.client.upload_part(
                Bucket=b.bucket, Key=self.key, UploadId=self.upload_id, PartNumber=number, Body=body
            )
        finally:
            if isinstance(body, mmap.mmap):
                body.close()  # its memory goes back to the system now
        return {"PartNumber": number, "ETag": reply["ETag"]}

    async def _in_flight(self, most: int) -> None:
        """Wait until at most `most` parts are in flight; raise the error of one that failed."""
        while True:
            for part in self.parts:
                if part.done() and part.exception() is not None:
                    raise part.exception()  # type: ignore[misc]
            running = [asyncio.wrap_future(p) for p in self.parts if not p.done()]
            if len(running) <= most:
                return
            await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)

    async def finish(self, copy_to: str = "", size: int = 0) -> None:
        """Complete the upload; with `copy_to`, then copy the object there (`size` bytes) and delete it."""
        await self._in_flight(0)
        done = [p.result() for p in self.parts]
        b = self.bucket

        def complete() -> None:
            b.client.complete_multipart_upload(
                Bucket=b.bucket, Key=self.key, UploadId=self.upload_id, MultipartUpload={"Parts": done}
            )
            if copy_to:
                try:
                    b.copy(self.key, copy_to, size)
                finally:
                    b.delete(self.key)

        self.finishing = b.executor.submit(complete)
        await asyncio.wrap_future(self.finishing)

    async def cancel(self) -> None:
        """Abort the upload once every request of it has ended, even when the caller is cancelled meanwhile."""
        if self.creating is None:
            return
        try:
            cleanup = asyncio.wrap_future(self.bucket.executor.submit(self._abort))
        except RuntimeError:  # the bucket is closed: the server is going away
            self._abort()
            return
        with contextlib.suppress(BaseException):  # the caller re-raises what made it cancel
            await asyncio.shield(cleanup)

    def _abort(self) -> None:
        assert self.creating is not None
        futures.wait([self.creating])
        if self.creating.cancelled() or self.creating.exception() is not None:
            return  # no upload was started
        self.upload_id = self.creating.result()["UploadId"]  # also when the caller was cancelled while it started
        pending: list[futures.Future[Any]] = [*self.parts, *([self.finishing] if self.finishing else [])]
        for f in pending:
            f.cancel()  # those not started yet
        futures.wait(pending)
        b = self.bucket
        try:
            try:
                b.client.abort_multipart_upload(Bucket=b.bucket, Key=self.key, UploadId=self.upload_id)
            except Exception as err:
                if not missing(err):  # missing: completed meanwhile, and its object is deleted below
                    raise
            if self.finishing is not None:
                b.delete(self.key)
        except Exception:
            log.exception("aborting a multipart upload failed", extra={"key": self.key, "upload_id": self.upload_id})
