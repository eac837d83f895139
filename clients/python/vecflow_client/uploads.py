"""Upload content (a path, bytes or a binary stream) read in chunks, re-readable for a retry where it can be."""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import IO
from urllib.parse import unquote, urlparse

DEFAULT_CHUNK_SIZE = 1 << 20
UploadSource = str | os.PathLike[str] | bytes | bytearray | memoryview | IO[bytes]


class Source:
    """Upload content that can be read in chunks, and re-read from the start for a retry where possible."""

    def __init__(self, source: UploadSource | None) -> None:
        self.path: Path | None = None
        self.data: bytes | None = None
        self.stream: IO[bytes] | None = None
        self.start = 0
        if source is None:
            return
        if isinstance(source, str | os.PathLike):
            self.path = Path(source)
            if not self.path.is_file():
                raise FileNotFoundError(f"no such file: {self.path}")
        elif isinstance(source, bytes | bytearray | memoryview):
            self.data = bytes(source)
        else:
            self.stream = source
            try:
                self.start = source.tell() if source.seekable() else -1
            except (OSError, ValueError):
                self.start = -1

    @property
    def replayable(self) -> bool:
        return self.stream is None or self.start >= 0

    def default_name(self) -> str:
        if self.path is not None:
            return self.path.name
        return Path(str(getattr(self.stream, "name", "") or "")).name

    async def chunks(self, size: int) -> AsyncIterator[bytes]:
        """The content in pieces of at most `size` bytes; an empty source is one empty piece."""
        if self.data is not None:
            for start in range(0, max(len(self.data), 1), size):
                yield self.data[start : start + size]
            return
        if self.path is not None:
            handle: IO[bytes] = await asyncio.to_thread(open, self.path, "rb")
            close = True
        else:
            assert self.stream is not None
            handle, close = self.stream, False
            if self.start >= 0:
                handle.seek(self.start)
        try:
            first = True
            while True:
                piece = await asyncio.to_thread(handle.read, size)
                if not piece:
                    if first:
                        yield b""
                    return
                first = False
                yield piece
        finally:
            if close:
                handle.close()

    async def sha256(self) -> str:
        digest = hashlib.sha256()
        async for piece in self.chunks(DEFAULT_CHUNK_SIZE):
            digest.update(piece)
        return digest.hexdigest()


def url_name(url: str) -> str:
    parsed = urlparse(url)
    return unquote(parsed.path.rstrip("/").rpartition("/")[2]) or parsed.hostname or ""
