"""The S3 backend: contents as `<prefix>blobs/<sha256>`, parse results as `<prefix>parsed/<id>.json` in a bucket.

An upload's sha256 is known only at its end: one that fits in one part is PUT straight to its key; a larger one
goes up as a multipart upload to `<prefix>tmp/<random>`, is completed, copied server-side to its key and the
temp object deleted. Copying (or PUTting) onto a content that is stored already refreshes its LastModified,
which reclaiming goes by, as rewriting a file's mtime does on the local backend. Files that a process needs
on its disk (the parse worker's input, a URL fetch, a parse worker's output) live in a local scratch folder.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import threading
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from vecflow.storage.blobs import HEAD_BYTES, BlobStore, StoredBlob, UploadMeter
from vecflow.storage.objects.s3 import MultipartUpload, PartCutter, S3Bucket, part_size
from vecflow.storage.parsed import ParsedStore, encoded

STALE_UPLOAD_SECONDS = 24 * 3600  # at start, multipart uploads and temp objects older than this are removed
LARGEST_RESULT_BYTES = 4 * 1024**3  # parse results are uploaded in parts sized for up to this


class S3BlobStore(BlobStore):
    """Contents in a bucket, named by sha256."""

    def __init__(self, bucket: S3Bucket, scratch: Path) -> None:
        self.bucket = bucket
        self.scratch = scratch  # local temp files: fetches before they are stored, downloads for parsing
        self.scratch.mkdir(parents=True, exist_ok=True)

    def key(self, sha256: str) -> str:
        return self.bucket.key(f"blobs/{sha256}")

    def temp_path(self) -> Path:
        return self.scratch / f"blob-{uuid.uuid4().hex}"

    async def put_stream(self, chunks: AsyncIterator[bytes], max_bytes: int) -> StoredBlob:
        meter = UploadMeter(max_bytes)
        upload = MultipartUpload(self.bucket, self.bucket.key(f"tmp/{uuid.uuid4().hex}"))
        parts = PartCutter(part_size(max_bytes))
        try:
            async for chunk in chunks:
                meter.add(chunk)
                for part in parts.add(chunk):
                    await upload.send(part)
            blob = meter.blob()
            buffer = parts.rest()
            if upload.started:
                if buffer:
                    await upload.send(buffer)
                await upload.finish(copy_to=self.key(blob.sha256), size=blob.size)
            else:
                await self.bucket.run(self.bucket.put, self.key(blob.sha256), buffer)
        except BaseException:
            await upload.cancel()
            raise
        return blob

    async def adopt(self, temp: Path, sha256: str, size: int, head: bytes | None = None) -> StoredBlob:
        """Upload a finished local file as the content, then delete the file."""
        try:
            if head is None:

                def read_head() -> bytes:
                    with open(temp, "rb") as f:
                        return f.read(HEAD_BYTES)

                head = await asyncio.to_thread(read_head)
            await self.bucket.upload_file(self.key(sha256), temp, size)
        finally:
            await asyncio.to_thread(temp.unlink, True)
        return StoredBlob(sha256, size, head)

    @asynccontextmanager
    async def local_file(self, sha256: str) -> AsyncIterator[Path | None]:
        """The content downloaded to a scratch file (streamed), deleted on exit."""
        path = self.scratch / f"read-{uuid.uuid4().hex}"
        stop = threading.Event()
        download = self.bucket.executor.submit(self.bucket.download, self.key(sha256), path, stop)
        try:
            found = await asyncio.wrap_future(download)
            yield path if found else None
        finally:
            stop.set()  # a download still running (the caller was cancelled) stops at its next piece ...
            download.add_done_callback(lambda _: path.unlink(missing_ok=True))  # ... and its file goes then

    def stored_before(self, cutoff: float) -> list[tuple[str, int]]:
        start = self.bucket.key("blobs/")
        return [
            (key[len(start) :], size)
            for key, size, modified in self.bucket.listing(start)
            if modified < cutoff and len(key) - len(start) == 64
        ]

    async def delete_if_unchanged(self, sha256: str, cutoff: float) -> bool:
        """Deleted after a fresh look at its LastModified (S3 has no delete conditional on it); an upload of the
        same content can slip in only in the moment between the two requests."""

        def remove() -> bool:
            found = self.bucket.head(self.key(sha256))
            if found is None or found[1] >= cutoff:
                return False
            self.bucket.delete(self.key(sha256))
            return True

        return await self.bucket.run(remove)

    async def delete(self, sha256: str) -> None:
        await self.bucket.run(self.bucket.delete, self.key(sha256))

    async def clear_temp(self) -> None:
        """Empty the scratch folder; abort multipart uploads and delete temp objects over a day old (younger ones
        may be other servers' uploads in progress)."""
        shutil.rmtree(self.scratch, ignore_errors=True)
        self.scratch.mkdir(parents=True, exist_ok=True)
        before = time.time() - STALE_UPLOAD_SECONDS

        def clear() -> None:
            self.bucket.abort_stale_uploads(before)
            for key, _, modified in self.bucket.listing(self.bucket.key("tmp/")):
                if modified < before:
                    self.bucket.delete(key)

        await self.bucket.run(clear)

    def close(self) -> None:
        self.bucket.close()


class S3ParsedStore(ParsedStore):
    """One JSON object per parse result."""

    def __init__(self, bucket: S3Bucket, scratch: Path) -> None:
        self.bucket = bucket
        self.scratch = scratch
        self.scratch.mkdir(parents=True, exist_ok=True)

    def key(self, parse_result_id: str) -> str:
        return self.bucket.key(f"parsed/{parse_result_id}.json")

    async def save(self, parse_result_id: str, document: Any) -> int:
        raw = await asyncio.to_thread(encoded, document)
        await self.bucket.run(self.bucket.put, self.key(parse_result_id), raw)
        return len(raw)

    def temp_path(self, parse_result_id: str) -> Path:
        return self.scratch / f"parsed-{parse_result_id}.{os.getpid()}.{uuid.uuid4().hex[:8]}.part"

    async def adopt(self, parse_result_id: str, temp: Path) -> int:
        """Upload the worker's JSON (streamed), then delete the local file."""
        try:
            size = (await asyncio.to_thread(temp.stat)).st_size
            await self.bucket.upload_file(self.key(parse_result_id), temp, LARGEST_RESULT_BYTES)
        finally:
            await asyncio.to_thread(temp.unlink, True)
        return size

    def read(self, parse_result_id: str) -> dict[str, Any] | None:
        raw = self.bucket.get(self.key(parse_result_id))
        return None if raw is None else json.loads(raw)

    async def load(self, parse_result_id: str) -> dict[str, Any] | None:
        return await self.bucket.run(self.read, parse_result_id)

    async def delete(self, parse_result_id: str) -> None:
        await self.bucket.run(self.bucket.delete, self.key(parse_result_id))
