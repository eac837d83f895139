"""Content-addressed blob store: each distinct content is kept once, under its sha256.

This is the interface; its backends (a local folder, S3) live in vecflow.storage.objects.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from pathlib import Path

from vecflow.errors import ResourceExhausted


@dataclass(frozen=True)
class StoredBlob:
    sha256: str
    size: int
    head: bytes  # the first 64 KiB, for type detection


HEAD_BYTES = 64 * 1024


class UploadMeter:
    """Hashes and counts an upload as it streams, keeps its head, and refuses it past `max_bytes`."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.digest = hashlib.sha256()
        self.size = 0
        self.head = bytearray()

    def add(self, chunk: bytes) -> None:
        """Count one chunk; RESOURCE_EXHAUSTED (UPLOAD_TOO_LARGE) once the upload is past the limit."""
        self.size += len(chunk)
        if self.size > self.max_bytes:
            raise ResourceExhausted(
                f"the upload exceeds the server's limit of {self.max_bytes} bytes (VECFLOW_MAX_UPLOAD_BYTES)",
                reason="UPLOAD_TOO_LARGE",
                metadata={"limit_bytes": str(self.max_bytes)},
            )
        self.digest.update(chunk)
        if len(self.head) < HEAD_BYTES:
            self.head += chunk[: HEAD_BYTES - len(self.head)]

    def blob(self) -> StoredBlob:
        return StoredBlob(self.digest.hexdigest(), self.size, bytes(self.head))


class BlobStore(ABC):
    """Where file contents live, named by sha256. Writing the same content again refreshes its write time,
    which is what reclaiming goes by (see `stored_before`)."""

    @abstractmethod
    async def put_stream(self, chunks: AsyncIterator[bytes], max_bytes: int) -> StoredBlob:
        """Stream chunks into the store (memory stays flat), hashing as they come; RESOURCE_EXHAUSTED past
        max_bytes. Nothing of an upload that fails or is cancelled stays behind."""

    @abstractmethod
    def temp_path(self) -> Path:
        """A fresh local file name for content written elsewhere (a URL fetch) before `adopt` stores it."""

    @abstractmethod
    async def adopt(self, temp: Path, sha256: str, size: int, head: bytes | None = None) -> StoredBlob:
        """Store the finished local file `temp` as content `sha256` (it is gone from `temp` afterwards)."""

    @abstractmethod
    def local_file(self, sha256: str) -> AbstractAsyncContextManager[Path | None]:
        """A local file with the content while inside (None when it is not stored): the stored file itself on a
        local folder, a temporary download elsewhere, deleted on exit."""

    @abstractmethod
    def stored_before(self, cutoff: float) -> list[tuple[str, int]]:
        """(sha256, size) of the contents last written before `cutoff` (a time.time()), blocking."""

    @abstractmethod
    async def delete_if_unchanged(self, sha256: str, cutoff: float) -> bool:
        """Delete the content unless it was written again since `cutoff`; whether it was deleted."""

    @abstractmethod
    async def delete(self, sha256: str) -> None:
        """Delete the content (nothing when it is not stored)."""

    @abstractmethod
    async def clear_temp(self) -> None:
        """Remove what uploads interrupted by a crash left (call at start, before serving)."""

    @abstractmethod
    def close(self) -> None:
        """Release what the store holds (connections, threads)."""
