"""The delivery loop of one replica: claim due deliveries from the outbox under a lease, POST each one signed,
record the attempt, and schedule a retry with exponential backoff (and jitter) or give up.

An answer of 2xx delivers it. 408, 429, 5xx, a timeout or a failed connection is retried: the n-th retry waits
about `retry_base_seconds * 2**(n-1)` (at most `retry_max_delay_seconds`; each wait is drawn between half of
it and all of it), and no attempt starts later than `retry_window_seconds` after the event. Any other answer
(3xx: redirects are not followed; 4xx) or an address the SSRF rules refuse ends the delivery as failed at once.

Every attempt carries its own `webhook-timestamp` and signature and the same `webhook-id` (the delivery's id).
A replica that dies mid-attempt leaves its claim to expire (`lease_seconds`: twice the attempt timeout); the
delivery is then claimed again with the next attempt number, so an attempt is never sent twice, but a receiver
may get an event again when an attempt it answered was not recorded: it dedupes on webhook-id.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from http import HTTPStatus

from vecflow.metrics import WEBHOOK_ATTEMPTS
from vecflow.pipeline.fetch import FETCH_FAILED, FETCH_TIMEOUT, FetchError, FetchPolicy
from vecflow.pipeline.fetch.post import post
from vecflow.services.webhooks.signing import sign
from vecflow.storage import webhooks as rows
from vecflow.storage.db import Database
from vecflow.storage.models import utcnow

log = logging.getLogger("vecflow.webhooks")

RETRIED_STATUSES = frozenset({408, 429})  # and every 5xx


@dataclass(frozen=True)
class DeliverySettings:
    timeout_seconds: float = 10.0  # one attempt, DNS and connecting included
    retry_base_seconds: float = 5.0
    retry_max_delay_seconds: float = 3600.0
    retry_window_seconds: float = 86400.0
    poll_seconds: float = 1.0
    concurrency: int = 8  # attempts in flight at once on this replica

    @property
    def lease_seconds(self) -> float:
        """How long a claimed attempt is this replica's: past it, the delivery is due again."""
        return 2 * self.timeout_seconds

    def retry_delay(self, attempt: int) -> float:
        """The wait after failed attempt number `attempt` (1-based), with jitter."""
        full = min(self.retry_max_delay_seconds, self.retry_base_seconds * 2 ** min(attempt - 1, 40))
        return random.uniform(full / 2, full)


def _reason(status: int) -> str:
    try:
        return f" ({HTTPStatus(status).phrase})"
    except ValueError:
        return ""


class WebhookDeliverer:
    """Delivers due webhook events while started; `owner` (`<replica>:<random>`) holds its claims."""

    def __init__(
        self, db: Database, policy: FetchPolicy, settings: DeliverySettings | None = None, replica_id: str = ""
    ) -> None:
        self.db = db
        self.policy = policy
        self.settings = settings or DeliverySettings()
        self.owner = f"{replica_id or 'vecflow'}:{uuid.uuid4().hex[:8]}"
        self._loop: asyncio.Task[None] | None = None
        self._inflight: set[asyncio.Task[None]] = set()

    def start(self) -> None:
        if self._loop is None:
            self._loop = asyncio.create_task(self._run(), name="vecflow-webhook-deliverer")

    async def stop(self) -> None:
        """Stop claiming and cancel attempts in flight (their claims expire; another replica, or this one after
        a restart, makes the next attempt)."""
        tasks = [t for t in (self._loop, *self._inflight) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._loop = None
        self._inflight.clear()

    async def _run(self) -> None:
        while True:
            free = self.settings.concurrency - len(self._inflight)
            claimed: list[rows.Claimed] = []
            if free > 0:
                try:
                    claimed = await self._claim(free)
                except Exception:
                    log.exception("claiming webhook deliveries failed")
            for claim in claimed:
                task = asyncio.create_task(self._attempt(claim), name=f"vecflow-webhook-{claim.id}")
                self._inflight.add(task)
                task.add_done_callback(self._inflight.discard)
            if claimed and len(claimed) == free:
                continue  # more may be due; a full house waits for a slot below
            if self._inflight:
                await asyncio.wait(
                    self._inflight, timeout=self.settings.poll_seconds, return_when=asyncio.FIRST_COMPLETED
                )
            else:
                await asyncio.sleep(self.settings.poll_seconds)

    async def _claim(self, limit: int) -> list[rows.Claimed]:
        now = utcnow()
        if not await self.db.read(lambda conn: rows.any_due(conn, now)):  # most polls: no write transaction
            return []
        until = now + timedelta(seconds=self.settings.lease_seconds)
        return await rows.transact(self.db, lambda conn: rows.claim_due(conn, self.owner, now, until, limit))

    async def _attempt(self, claim: rows.Claimed) -> None:
        body = claim.payload.encode()
        timestamp = int(time.time())
        try:
            headers = {
                "webhook-id": claim.id,
                "webhook-timestamp": str(timestamp),
                "webhook-signature": sign(claim.secret, claim.id, timestamp, body),
                "webhook-attempt": str(claim.attempt),
            }
            status = await post(claim.url, body, headers, self.policy)
        except FetchError as err:
            retry = err.code in (FETCH_TIMEOUT, FETCH_FAILED)
            outcome = self._judge(claim, 0, err.code, err.message, retry)
        except Exception as err:  # a bug of ours: retried like a failed connection, and logged
            log.exception("webhook delivery %s: unexpected error", claim.id)
            outcome = self._judge(claim, 0, "INTERNAL_ERROR", f"{type(err).__name__}: {err}", retry=True)
        else:
            if 200 <= status < 300:
                outcome = rows.Outcome(rows.SUCCEEDED, response_code=status)
            else:
                retry = status >= 500 or status in RETRIED_STATUSES
                outcome = self._judge(
                    claim, status, "HTTP_ERROR", f"the endpoint answered HTTP {status}{_reason(status)}", retry
                )
        WEBHOOK_ATTEMPTS.labels(outcome=outcome.status).inc()
        extra = {"delivery_id": claim.id, "webhook_id": claim.webhook_id, "attempt": claim.attempt}
        try:
            recorded = await rows.transact(
                self.db, lambda conn: rows.record_attempt(conn, claim, self.owner, outcome, utcnow())
            )
        except Exception:  # the claim expires and the delivery is tried again
            log.exception("recording a webhook attempt failed", extra=extra)
            return
        if not recorded:
            log.warning("a webhook attempt ended after its claim was lost (or the webhook was deleted)", extra=extra)
        elif outcome.status == rows.FAILED:
            log.info("gave up a webhook delivery", extra={**extra, "error": outcome.error_message})

    def _judge(self, claim: rows.Claimed, status: int, code: str, message: str, retry: bool) -> rows.Outcome:
        """A failed attempt: retried after its backoff while the retry window allows, else failed."""
        now = utcnow()
        if retry:
            due: datetime = now + timedelta(seconds=self.settings.retry_delay(claim.attempt))
            if due <= claim.created_at + timedelta(seconds=self.settings.retry_window_seconds):
                return rows.Outcome(rows.PENDING, status, code, message, next_attempt_at=due)
            message += f"; gave up after {claim.attempt} attempts (VECFLOW_WEBHOOK_RETRY_WINDOW_SECONDS)"
        return rows.Outcome(rows.FAILED, status, code, message)
