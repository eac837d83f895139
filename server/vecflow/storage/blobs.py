"""Content-addressed blob store: each distinct content is kept once, under its sha256."""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from vecflow.errors import ResourceExhausted


@dataclass(frozen=True)
class StoredBlob:
    sha256: str
    size: int
    path: Path
    head: bytes  # the first 64 KiB, for type detection


HEAD_BYTES = 64 * 1024


class BlobStore:
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
        """Stream chunks to disk (memory stays flat), hashing as they come; RESOURCE_EXHAUSTED past max_bytes."""
        temp = self.temp_path()
        digest = hashlib.sha256()
        size = 0
        head = bytearray()
        handle = await asyncio.to_thread(open, temp, "wb")
        try:
            async for chunk in chunks:
                size += len(chunk)
                if size > max_bytes:
                    raise ResourceExhausted(
                        f"the upload exceeds the server's limit of {max_bytes} bytes (VECFLOW_MAX_UPLOAD_BYTES)",
                        reason="UPLOAD_TOO_LARGE",
                        metadata={"limit_bytes": str(max_bytes)},
                    )
                digest.update(chunk)
                if len(head) < HEAD_BYTES:
                    head += chunk[: HEAD_BYTES - len(head)]
                await asyncio.to_thread(handle.write, chunk)
        except BaseException:
            handle.close()
            temp.unlink(missing_ok=True)
            raise
        handle.close()
        return await self.adopt(temp, digest.hexdigest(), size, bytes(head))

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
        return StoredBlob(sha256, size, self.path(sha256), got)

    def stored_before(self, cutoff: float) -> list[tuple[str, int]]:
        """(sha256, size) of the contents last written before `cutoff` (a time.time()), blocking."""
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
        """Delete the content unless it was written again since `cutoff`; whether it was deleted."""

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

    def clear_temp(self) -> None:
        """Remove temp files left by a crash (call at start, before serving)."""
        shutil.rmtree(self.tmp, ignore_errors=True)
        self.tmp.mkdir(parents=True, exist_ok=True)
