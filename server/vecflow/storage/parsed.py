"""Parsed documents on disk: the full text, page spans, metadata and tables of each parse result."""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Any


class ParsedStore:
    """One JSON file per parse result under `<data dir>/parsed/`, written atomically."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)

    def path(self, parse_result_id: str) -> Path:
        return self.root / f"{parse_result_id}.json"

    async def save(self, parse_result_id: str, document: Any) -> int:
        """Store a ParsedDocument (or a dict); returns the bytes written."""
        data = asdict(document) if is_dataclass(document) and not isinstance(document, type) else dict(document)

        def write() -> int:
            final = self.path(parse_result_id)
            temp = final.with_suffix(".tmp")
            raw = json.dumps(data, ensure_ascii=False).encode()
            temp.write_bytes(raw)
            os.replace(temp, final)
            return len(raw)

        return await asyncio.to_thread(write)

    def temp_path(self, parse_result_id: str) -> Path:
        """Where a parse worker writes a result before `adopt` makes it the stored one."""
        return self.root / f".{parse_result_id}.{os.getpid()}.{uuid.uuid4().hex[:8]}.part"

    async def adopt(self, parse_result_id: str, temp: Path) -> int:
        """Make the JSON written at `temp` (see `temp_path`) the stored result; returns its size in bytes."""

        def move() -> int:
            size = temp.stat().st_size
            os.replace(temp, self.path(parse_result_id))
            return size

        return await asyncio.to_thread(move)

    def read(self, parse_result_id: str) -> dict[str, Any] | None:
        """The stored document, or None if there is none (blocking: call it from a worker thread)."""
        try:
            return json.loads(self.path(parse_result_id).read_bytes())
        except FileNotFoundError:
            return None

    async def load(self, parse_result_id: str) -> dict[str, Any] | None:
        return await asyncio.to_thread(self.read, parse_result_id)

    async def delete(self, parse_result_id: str) -> None:
        await asyncio.to_thread(self.path(parse_result_id).unlink, True)
