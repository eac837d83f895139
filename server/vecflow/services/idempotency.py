"""Request-id deduplication (AIP-155): a retried mutating call gets the first call's response."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import timedelta

from vecflow.errors import InvalidArgument
from vecflow.storage import idempotency as store
from vecflow.storage import models as m
from vecflow.storage.db import Database
from vecflow.storage.models import utcnow

log = logging.getLogger(__name__)
STALE = timedelta(seconds=30)  # a PENDING row not heartbeated for this long: its producer died, the call may run
HEARTBEAT_SECONDS = 10.0  # how often a producer stamps its PENDING row
WAIT_FIRST, WAIT_MOST = 0.1, 1.0  # seconds between looks at a row another replica is producing


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

    async def lookup(
        self, project_id: str, request_id: str, method: str, request_digest: str
    ) -> m.IdempotencyRecord | None:
        """The live row for this request id (a response, or PENDING while a call produces it); None when there is
        none, it expired, or it is PENDING with a dead producer. A row of another request is REQUEST_ID_REUSED."""
        async with self.db.read_session() as s:
            row = await store.recorded_response(s, project_id, request_id)
        now = utcnow()
        if row is None or row.created_at < now - self.ttl:
            return None
        if row.response == store.PENDING and row.created_at < now - STALE:
            return None
        if row.method != method or row.request_digest != request_digest:
            raise InvalidArgument.field(
                "request_id",
                f"was already used for a different request ({row.method}); use a new UUID for a new request",
                reason="REQUEST_ID_REUSED",
            )
        return row

    async def claim(self, project_id: str, request_id: str, method: str, request_digest: str) -> bool:
        """Mark this request id PENDING (replacing an expired row or a dead producer's); False when taken."""
        now = utcnow()
        async with self.db.session() as s:
            return await store.claim(s, project_id, request_id, method, request_digest, now - self.ttl, now - STALE)

    async def heartbeat(self, project_id: str, request_id: str) -> None:
        """Stamp the PENDING row every HEARTBEAT_SECONDS while the call produces, so no replica takes it over."""
        while True:
            await asyncio.sleep(HEARTBEAT_SECONDS)
            try:
                async with self.db.session() as s:
                    await store.heartbeat(s, project_id, request_id)
            except Exception:
                log.warning("could not heartbeat request id %s", request_id, exc_info=True)

    async def release(self, project_id: str, request_id: str) -> None:
        """Drop the PENDING row of a call that failed, so that the request id may be used again."""
        try:
            async with self.db.session() as s:
                await store.release(s, project_id, request_id)
        except Exception:
            log.warning("could not release request id %s", request_id, exc_info=True)

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
        """The stored response for a repeat, else `produce()`'s response, remembered. Same-id calls queue on a
        local lock; across replicas the PENDING row claimed first makes the others wait for its response."""
        request_digest = digest(request_bytes)
        async with self.hold(project_id, request_id):
            pause = WAIT_FIRST
            while True:
                row = await self.lookup(project_id, request_id, method, request_digest)
                if row is None:
                    if await self.claim(project_id, request_id, method, request_digest):
                        break
                elif row.response != store.PENDING:
                    return row.response
                else:  # another replica is producing it (the gRPC deadline, cancelling us, bounds the wait)
                    await asyncio.sleep(pause)
                    pause = min(pause * 2, WAIT_MOST)
            beating = asyncio.create_task(self.heartbeat(project_id, request_id))
            try:
                response = await produce()
                await self.remember(project_id, request_id, method, request_digest, response)
            except BaseException:
                beating.cancel()
                await asyncio.shield(self.release(project_id, request_id))
                raise
            beating.cancel()
            return response
