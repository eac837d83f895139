"""The local-folder backend (the default): contents and parse results as files under the data dir."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from vecflow.storage.blobs import HEAD_BYTES, BlobStore, StoredBlob, UploadMeter
from vecflow.storage.parsed import ParsedStore, encoded


class LocalBlobStore(BlobStore):
    """Files under `<root>/ab/cdef…` named by sha256; writes go through a temp file and an atomic rename."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.tmp = root / "tmp"
        self.tmp.mkdir(parents=True, exist_ok=True)

    def path(self, sha256: str) -> Path:
        return self.root / sha256[:2] / sha256[2:]

    def temp_path(self) -> Path:
        return self.tmp / uuid.uuid4().hex

    async def put_stream(self, chunks: AsyncIterator[bytes], max_bytes: int) -> StoredBlob:
        temp = self.temp_path()
        meter = UploadMeter(max_bytes)
        handle = await asyncio.to_thread(open, temp, "wb")
        try:
            async for chunk in chunks:
                meter.add(chunk)
                await asyncio.to_thread(handle.write, chunk)
        except BaseException:
            handle.close()
            temp.unlink(missing_ok=True)
            raise
        handle.close()
        blob = meter.blob()
        return await self.adopt(temp, blob.sha256, blob.size, blob.head)

    async def adopt(self, temp: Path, sha256: str, size: int, head: bytes | None = None) -> StoredBlob:
        """Move a finished temp file into place (or drop it when that content is already stored)."""

        def move() -> bytes:
            final = self.path(sha256)
            if final.exists():
                temp.unlink(missing_ok=True)
                os.utime(final)  # written again, as far as reclaiming is concerned (see stored_before)
            else:
                final.parent.mkdir(parents=True, exist_ok=True)
                os.replace(temp, final)
            if head is not None:
                return head
            with open(final, "rb") as f:
                return f.read(HEAD_BYTES)

        got = await asyncio.to_thread(move)
        return StoredBlob(sha256, size, got)

    @asynccontextmanager
    async def local_file(self, sha256: str) -> AsyncIterator[Path | None]:
        """The stored file itself (no copy)."""
        path = self.path(sha256)
        yield path if await asyncio.to_thread(path.exists) else None

    def stored_before(self, cutoff: float) -> list[tuple[str, int]]:
        found: list[tuple[str, int]] = []
        for shard in self.root.iterdir():
            if len(shard.name) != 2 or not shard.is_dir():
                continue
            for entry in os.scandir(shard):
                try:
                    info = entry.stat()
                except FileNotFoundError:
                    continue
                if info.st_mtime < cutoff:
                    found.append((shard.name + entry.name, info.st_size))
        return found

    async def delete_if_unchanged(self, sha256: str, cutoff: float) -> bool:
        def remove() -> bool:
            path = self.path(sha256)
            try:
                if path.stat().st_mtime >= cutoff:
                    return False
                path.unlink()
            except FileNotFoundError:
                return False
            return True

        return await asyncio.to_thread(remove)

    async def delete(self, sha256: str) -> None:
        await asyncio.to_thread(self.path(sha256).unlink, True)

    async def clear_temp(self) -> None:
        """Remove temp files left by a crash."""
        shutil.rmtree(self.tmp, ignore_errors=True)
        self.tmp.mkdir(parents=True, exist_ok=True)

    def close(self) -> None:
        pass


class LocalParsedStore(ParsedStore):
    """One JSON file per parse result under `<data dir>/parsed/`, written atomically."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)

    def path(self, parse_result_id: str) -> Path:
        return self.root / f"{parse_result_id}.json"

    async def save(self, parse_result_id: str, document: Any) -> int:
        def write() -> int:
            final = self.path(parse_result_id)
            temp = final.with_suffix(".tmp")
            raw = encoded(document)
            temp.write_bytes(raw)
            os.replace(temp, final)
            return len(raw)

        return await asyncio.to_thread(write)

    def temp_path(self, parse_result_id: str) -> Path:
        return self.root / f".{parse_result_id}.{os.getpid()}.{uuid.uuid4().hex[:8]}.part"

    async def adopt(self, parse_result_id: str, temp: Path) -> int:
        def move() -> int:
            size = temp.stat().st_size
            os.replace(temp, self.path(parse_result_id))
            return size

        return await asyncio.to_thread(move)

    def read(self, parse_result_id: str) -> dict[str, Any] | None:
        try:
            return json.loads(self.path(parse_result_id).read_bytes())
        except FileNotFoundError:
            return None

    async def delete(self, parse_result_id: str) -> None:
        await asyncio.to_thread(self.path(parse_result_id).unlink, True)
