"""Webhook rows and the delivery outbox: endpoints per project, the events written with the changes that cause
them, and the claims, leases and outcomes of delivery attempts.

An event goes into the outbox on the connection of the transaction that makes the change (a job's terminal
update, a file's parse result, a batch's completion), so it exists exactly when the change does: a crash loses
none and invents none. Its `event_key` is unique per webhook, so a change redone after a crash (a parse job
that stored its result, then died before it ended) enqueues nothing new.

Claiming is a lease, as for jobs (storage.jobs): one transaction picks due deliveries (`FOR UPDATE SKIP
LOCKED` on PostgreSQL, so replicas never claim the same row; SQLite has one server), counts the attempt and
moves `next_attempt_at` to the end of the lease. An attempt whose replica dies is due again once the lease is
over, with the next attempt number: each (delivery, attempt) is sent at most once.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import Connection, bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from vecflow.ids import new_id
from vecflow.statuses import JobStatus, WebhookDeliveryStatus
from vecflow.storage import models as m
from vecflow.storage import repositories as repo
from vecflow.storage.db import Database
from vecflow.storage.jobs import JOBS

T = TypeVar("T")
WEBHOOKS = m.table(m.Webhook)
DELIVERIES = m.table(m.WebhookDelivery)

# Event types a webhook can subscribe to, in the order the docs list them.
JOB_EVENTS = {
    JobStatus.SUCCEEDED: "job.succeeded",
    JobStatus.FAILED: "job.failed",
    JobStatus.CANCELLED: "job.cancelled",
}
FILE_PARSED = "file.parsed"
FILE_BATCH_COMPLETED = "file_batch.completed"
UPSERTION_TASK_DONE = "upsertion_task.done"
EVENTS = (*JOB_EVENTS.values(), FILE_PARSED, FILE_BATCH_COMPLETED, UPSERTION_TASK_DONE)

PENDING, SUCCEEDED, FAILED = (
    WebhookDeliveryStatus.PENDING,
    WebhookDeliveryStatus.SUCCEEDED,
    WebhookDeliveryStatus.FAILED,
)
MAX_RESULT_BYTES = 16 * 1024  # a job's result larger than this (as JSON) is left out of its event

_HOOKS_OF_PROJECT = select(WEBHOOKS.c.id, WEBHOOKS.c.events).where(WEBHOOKS.c.project_id == bindparam("project_id"))
_HOOKS_OF_JOB = (
    select(WEBHOOKS.c.id, WEBHOOKS.c.events)
    .select_from(WEBHOOKS.join(JOBS, JOBS.c.project_id == WEBHOOKS.c.project_id))
    .where(JOBS.c.id == bindparam("job_id"))
)
_JOB_COLUMNS = (
    "id",
    "project_id",
    "operation",
    "status",
    "source_id",
    "correlation_id",
    "attempt",
    "result",
    "error_code",
    "error_message",
    "created_at",
    "completed_at",
)
_ENDED_JOB = select(*(JOBS.c[k] for k in _JOB_COLUMNS)).where(JOBS.c.id == bindparam("job_id"))


def iso(value: datetime | None) -> str | None:
    """An RFC 3339 UTC timestamp ("…Z"), as event payloads carry them."""
    return None if value is None else value.astimezone(UTC).isoformat().replace("+00:00", "Z")


# The outbox: events written inside the transaction of their change -----------------------------------------


def _insert(
    conn: Connection,
    hooks: Sequence[Any],
    project_id: str,
    event: str,
    key: str,
    data: Mapping[str, Any],
    now: datetime,
) -> int:
    """One delivery of `event` for each of `hooks` (id, events) subscribed to it; how many went in (an event
    key a webhook already has is skipped)."""
    targets = [hook_id for hook_id, events in hooks if event in (events or ())]
    if not targets:
        return 0
    body = json.dumps(
        {"type": event, "timestamp": iso(now), "data": dict(data)},
        separators=(",", ":"),
        ensure_ascii=False,
        default=str,  # never raises inside the transaction of the change it reports
    )
    added = 0
    for hook_id in targets:
        row = {
            "id": new_id("webhook_delivery"),
            "project_id": project_id,
            "webhook_id": hook_id,
            "event": event,
            "event_key": f"{event}:{key}"[:256],
            "payload": body,
            "status": PENDING,
            "attempts": 0,
            "next_attempt_at": now,
            "lease_owner": "",
            "last_response_code": 0,
            "last_error_code": "",
            "last_error_message": "",
            "created_at": now,
        }
        added += repo.insert_ignoring_conflict(conn, DELIVERIES, row)
    return added


def enqueue(conn: Connection, project_id: str, event: str, key: str, data: Mapping[str, Any], now: datetime) -> int:
    """Write `event` (with `data`, JSON values) for every webhook of the project subscribed to it, on the
    connection of the transaction that makes the change; `key` names the change among those of its event type
    (the same change redone enqueues nothing new). Returns how many deliveries were added."""
    hooks = conn.execute(_HOOKS_OF_PROJECT, {"project_id": project_id}).all()
    return _insert(conn, hooks, project_id, event, key, data, now) if hooks else 0


def file_parsed(
    conn: Connection, project_id: str, file_id: str, parse_result_id: str, job_id: str, now: datetime
) -> None:
    """The file's parse succeeded with this result, in this transaction: enqueue file.parsed (once per result:
    a parse step redone after a crash rewrites the same result)."""
    data = {
        "object": "file",
        "id": file_id,
        "project_id": project_id,
        "parse_state": "success",
        "parse_result_id": parse_result_id,
        "parse_job_id": job_id,
    }
    enqueue(conn, project_id, FILE_PARSED, parse_result_id, data, now)


def file_batch_completed(
    conn: Connection, project_id: str, batch_id: str, vector_store_id: str, job_id: str, now: datetime
) -> None:
    """The file batch has just completed in this transaction: enqueue file_batch.completed."""
    data = {
        "object": "vector_store.file_batch",
        "id": batch_id,
        "project_id": project_id,
        "vector_store_id": vector_store_id,
        "status": "completed",
        "job_id": job_id,
    }
    enqueue(conn, project_id, FILE_BATCH_COMPLETED, batch_id, data, now)


def job_ended(conn: Connection, job_id: str, sequence: int, now: datetime) -> None:
    """The job has just reached a terminal status in this transaction (event `sequence`): enqueue job.<status>
    and, for an `upsert` job that succeeded, upsertion_task.done (a task's status is its job's). One indexed
    read when the project has no webhooks."""
    hooks = conn.execute(_HOOKS_OF_JOB, {"job_id": job_id}).all()
    if not hooks:
        return
    job = conn.execute(_ENDED_JOB, {"job_id": job_id}).mappings().one()
    event = JOB_EVENTS.get(job["status"])
    if event is None:
        return
    data: dict[str, Any] = {
        "object": "job",
        "id": job_id,
        "project_id": job["project_id"],
        "operation": job["operation"],
        "status": job["status"],
        "source_id": job["source_id"],
        "correlation_id": job["correlation_id"],
        "attempt": job["attempt"],
        "created_at": iso(job["created_at"]),
        "completed_at": iso(job["completed_at"]),
    }
    if job["status"] == JobStatus.FAILED:
        data["error"] = {"code": job["error_code"], "message": job["error_message"]}
    result = job["result"]
    if job["status"] == JobStatus.SUCCEEDED and result is not None:
        if len(json.dumps(result, default=str)) <= MAX_RESULT_BYTES:
            data["result"] = result
    _insert(conn, hooks, job["project_id"], event, f"{job_id}:{sequence}", data, now)
    if job["operation"] == "upsert" and job["status"] == JobStatus.SUCCEEDED:
        task = {
            "object": "upsertion_task",
            "id": job["source_id"],
            "project_id": job["project_id"],
            "status": "done",
            "job_id": job_id,
            **({"result": data["result"]} if "result" in data else {}),
        }
        _insert(conn, hooks, job["project_id"], UPSERTION_TASK_DONE, f"{job_id}:{sequence}", task, now)


# Webhooks ----------------------------------------------------------------------------------------------------


async def count_webhooks(session: AsyncSession, project_id: str) -> int:
    return int(await session.scalar(select(func.count()).where(WEBHOOKS.c.project_id == project_id)) or 0)


async def page_webhooks(
    session: AsyncSession, project_id: str, size: int, token: str
) -> tuple[Sequence[m.Webhook], str]:
    """One page of the project's webhooks, newest first, and the next page's token."""
    stmt = select(m.Webhook).where(m.Webhook.project_id == project_id)
    return await repo.page_newest_first(session, stmt, m.Webhook, size, token, {"kind": "webhooks", "p": project_id})


async def page_deliveries(
    session: AsyncSession, project_id: str, webhook_id: str, status: str, size: int, token: str
) -> tuple[Sequence[m.WebhookDelivery], str]:
    """One page of a webhook's deliveries (with `status`, only those), newest first, and the next page's token."""
    stmt = select(m.WebhookDelivery).where(
        m.WebhookDelivery.webhook_id == webhook_id, m.WebhookDelivery.project_id == project_id
    )
    if status:
        stmt = stmt.where(m.WebhookDelivery.status == status)
    filters = {"kind": "webhook_deliveries", "p": project_id, "wh": webhook_id, "status": status}
    return await repo.page_newest_first(session, stmt, m.WebhookDelivery, size, token, filters)


# Delivery: claim under a lease, then record the attempt's outcome ----------------------------------------------


@dataclass(frozen=True)
class Claimed:
    """One delivery attempt this replica holds the lease of."""

    id: str
    webhook_id: str
    event: str
    payload: str
    attempt: int  # 1 for the first
    created_at: datetime
    url: str
    secret: str


_DUE = select(DELIVERIES.c.id).where(DELIVERIES.c.status == PENDING, DELIVERIES.c.next_attempt_at <= bindparam("now"))


async def transact(db: Database, work: Callable[[Connection], T]) -> T:
    """Run `work` in one write transaction on a synchronous connection and return what it returns: on SQLite in
    one hop to a thread under the writer lock (not a round trip per statement), elsewhere on the async engine."""
    if db.dialect != "sqlite":
        async with db.engine.begin() as conn:
            return await conn.run_sync(work)
    engine = db.sqlite_sync_engine()

    def run() -> T:
        with engine.begin() as conn:
            return work(conn)

    async with db.write_lock():
        return await asyncio.to_thread(run)


def any_due(conn: Connection, now: datetime) -> bool:
    """Whether some delivery is due (a cheap read before taking a write transaction)."""
    return conn.execute(_DUE.limit(1), {"now": now}).first() is not None


def claim_due(conn: Connection, owner: str, now: datetime, lease_until: datetime, limit: int) -> list[Claimed]:
    """Claim up to `limit` due deliveries for `owner`, oldest due first: each one's attempt is counted and it is
    not due again before `lease_until`. On PostgreSQL rows other replicas are claiming are skipped."""
    stmt = _DUE.order_by(DELIVERIES.c.next_attempt_at).limit(limit)
    if conn.dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    ids = list(conn.execute(stmt, {"now": now}).scalars())
    if not ids:
        return []
    claimed = conn.execute(
        update(DELIVERIES)
        .where(DELIVERIES.c.id.in_(ids), DELIVERIES.c.status == PENDING, DELIVERIES.c.next_attempt_at <= now)
        .values(
            attempts=DELIVERIES.c.attempts + 1,
            lease_owner=owner,
            next_attempt_at=lease_until,
            last_attempt_at=now,
        )
        .returning(
            DELIVERIES.c.id,
            DELIVERIES.c.webhook_id,
            DELIVERIES.c.event,
            DELIVERIES.c.payload,
            DELIVERIES.c.attempts,
            DELIVERIES.c.created_at,
        )
    ).all()
    if not claimed:
        return []
    hooks = {
        row.id: row
        for row in conn.execute(
            select(WEBHOOKS.c.id, WEBHOOKS.c.url, WEBHOOKS.c.secret).where(
                WEBHOOKS.c.id.in_({row.webhook_id for row in claimed})
            )
        )
    }
    return [
        Claimed(
            id=row.id,
            webhook_id=row.webhook_id,
            event=row.event,
            payload=row.payload,
            attempt=int(row.attempts),
            created_at=row.created_at,
            url=hooks[row.webhook_id].url,
            secret=hooks[row.webhook_id].secret,
        )
        for row in claimed
        if row.webhook_id in hooks
    ]


@dataclass(frozen=True)
class Outcome:
    """What one attempt came to: the delivery's new status, and when it is next due if still pending."""

    status: str
    response_code: int = 0
    error_code: str = ""
    error_message: str = ""
    next_attempt_at: datetime | None = None


def record_attempt(conn: Connection, claim: Claimed, owner: str, outcome: Outcome, now: datetime) -> bool:
    """Record the outcome of `claim` if `owner` still holds that attempt (False when its lease was lost and the
    delivery was claimed again, or the webhook was deleted meanwhile)."""
    ended = outcome.status != PENDING
    result = conn.execute(
        update(DELIVERIES)
        .where(
            DELIVERIES.c.id == claim.id,
            DELIVERIES.c.lease_owner == owner,
            DELIVERIES.c.attempts == claim.attempt,
            DELIVERIES.c.status == PENDING,
        )
        .values(
            status=outcome.status,
            lease_owner="",
            next_attempt_at=None if ended else outcome.next_attempt_at,
            last_response_code=outcome.response_code,
            last_error_code=outcome.error_code,
            last_error_message=outcome.error_message[:2000],
            completed_at=now if ended else None,
        )
    )
    return result.rowcount != 0
