"""Request-id deduplication (AIP-155): a retried mutating call gets the first call's response."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import timedelta

from vecflow.errors import InvalidArgument
from vecflow.storage import idempotency as store
from vecflow.storage.db import Database
from vecflow.storage.models import utcnow


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class IdempotencyService:
    """Stores opaque response bytes per (project, request_id), checked against the request's digest."""

    def __init__(self, db: Database, ttl_seconds: int) -> None:
        self.db = db
        self.ttl = timedelta(seconds=ttl_seconds)
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}
        self._writes = 0

    @asynccontextmanager
    async def hold(self, project_id: str, request_id: str) -> AsyncIterator[None]:
        """Serialise concurrent calls that share a request id, so only the first does the work."""
        key = (project_id, request_id)
        lock = self._locks.setdefault(key, asyncio.Lock())
        try:
            async with lock:
                yield
        finally:
            if not lock.locked() and not getattr(lock, "_waiters", None):
                self._locks.pop(key, None)

    async def lookup(self, project_id: str, request_id: str, method: str, request_digest: str) -> bytes | None:
        async with self.db.read_session() as s:
            row = await store.recorded_response(s, project_id, request_id)
        if row is None or row.created_at < utcnow() - self.ttl:
            return None
        if row.method != method or row.request_digest != request_digest:
            raise InvalidArgument.field(
                "request_id",
                f"was already used for a different request ({row.method}); use a new UUID for a new request",
                reason="REQUEST_ID_REUSED",
            )
        return row.response

    async def remember(
        self, project_id: str, request_id: str, method: str, request_digest: str, response: bytes
    ) -> None:
        async with self.db.session() as s:
            await store.record_response(s, project_id, request_id, method, request_digest, response)
            self._writes += 1
            if self._writes % 500 == 0:
                await store.forget_responses_before(s, utcnow() - self.ttl)

    async def run(
        self,
        project_id: str,
        request_id: str,
        method: str,
        request_bytes: bytes,
        produce: Callable[[], Awaitable[bytes]],
    ) -> bytes:
        """The stored response for a repeat, else `produce()`'s response, remembered."""
        request_digest = digest(request_bytes)
        async with self.hold(project_id, request_id):
            stored = await self.lookup(project_id, request_id, method, request_digest)
            if stored is not None:
                return stored
            response = await produce()
            await self.remember(project_id, request_id, method, request_digest, response)
            return response
