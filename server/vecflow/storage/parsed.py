"""Parsed documents: the full text, page spans, metadata and tables of each parse result, one JSON document each.

This is the interface; its backends (a local folder, S3) live in vecflow.storage.objects.
"""

from __future__ import annotations

import asyncio
import json
from abc import ABC, abstractmethod
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Any


def encoded(document: Any) -> bytes:
    """A ParsedDocument (or a dict) as the JSON that is stored."""
    data = asdict(document) if is_dataclass(document) and not isinstance(document, type) else dict(document)
    return json.dumps(data, ensure_ascii=False).encode()


class ParsedStore(ABC):
    """One JSON document per parse result, written whole (a reader never sees half of one)."""

    @abstractmethod
    async def save(self, parse_result_id: str, document: Any) -> int:
        """Store a ParsedDocument (or a dict); returns the bytes written."""

    @abstractmethod
    def temp_path(self, parse_result_id: str) -> Path:
        """Where a parse worker writes a result (a local file) before `adopt` makes it the stored one."""

    @abstractmethod
    async def adopt(self, parse_result_id: str, temp: Path) -> int:
        """Make the JSON written at `temp` (see `temp_path`) the stored result; returns its size in bytes."""

    @abstractmethod
    def read(self, parse_result_id: str) -> dict[str, Any] | None:
        """The stored document, or None if there is none (blocking: call it from a worker thread)."""

    async def load(self, parse_result_id: str) -> dict[str, Any] | None:
        return await asyncio.to_thread(self.read, parse_result_id)

    @abstractmethod
    async def delete(self, parse_result_id: str) -> None:
        """Delete the result (nothing when it is not stored)."""
