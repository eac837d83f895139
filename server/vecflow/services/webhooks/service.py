"""Registering a project's webhooks (create, get, list, delete) and reading their deliveries."""

from __future__ import annotations

from collections.abc import Sequence

from vecflow import validation as v
from vecflow.errors import FieldViolation, InvalidArgument, NotFound, ResourceExhausted
from vecflow.ids import new_id
from vecflow.pipeline.fetch import FetchError, FetchPolicy
from vecflow.pipeline.fetch.post import check_destination
from vecflow.services.auth import Principal
from vecflow.services.webhooks.signing import check_secret, new_secret
from vecflow.storage import locks, paging
from vecflow.storage import models as m
from vecflow.storage import repositories as repo
from vecflow.storage import webhooks as rows
from vecflow.storage.db import AsyncSession, Database
from vecflow.storage.models import utcnow

MAX_URL = 2048
EVENTS = rows.EVENTS


def _events(events: Sequence[str]) -> list[str]:
    """The subscribed events, duplicates dropped (first spelling kept); INVALID_ARGUMENT names each unknown one
    and lists the valid ones."""
    if not events:
        raise InvalidArgument.field("events", f"is required: one or more of {', '.join(EVENTS)}")
    unknown = [(i, e[:64]) for i, e in enumerate(events) if e not in EVENTS][:20]  # the first few, shortened
    if unknown:
        valid = ", ".join(EVENTS)
        shown = ", ".join(repr(e) for _, e in unknown[:5])
        raise InvalidArgument(
            f"events: {shown} {'is not an event' if len(unknown) == 1 else 'are not events'}; valid events: {valid}",
            violations=[
                FieldViolation(f"events[{i}]", f"{e!r} is not an event; valid events: {valid}") for i, e in unknown
            ],
        )
    return list(dict.fromkeys(events))


class WebhookService:
    def __init__(self, db: Database, policy: FetchPolicy, max_per_project: int) -> None:
        """`policy` carries the SSRF rules (VECFLOW_FETCH_ALLOW_HOSTS) a webhook URL must pass."""
        self.db = db
        self.policy = policy
        self.max_per_project = max_per_project

    def _url(self, url: str) -> str:
        v.required("url", url)
        v.text("url", url, MAX_URL)
        try:
            check_destination(url, self.policy)
        except FetchError as err:
            raise InvalidArgument.field("url", err.message, reason=err.code) from None
        return url

    async def create(
        self, caller: Principal, url: str, events: Sequence[str], secret: str = ""
    ) -> tuple[m.Webhook, str]:
        """A new webhook and its signing secret (generated unless given; only ever returned here)."""
        url = self._url(url)
        subscribed = _events(events)
        secret = check_secret("secret", secret) if secret else new_secret()
        async with self.db.session() as s:
            await locks.hold_in(s, f"vecflow.webhooks.{caller.project_id}")  # the count holds under replicas
            if await rows.count_webhooks(s, caller.project_id) >= self.max_per_project:
                raise ResourceExhausted(
                    f"the project has {self.max_per_project} webhooks, the most it may have "
                    "(VECFLOW_WEBHOOK_MAX_PER_PROJECT); delete one first",
                    reason="TOO_MANY_WEBHOOKS",
                    metadata={"limit": str(self.max_per_project)},
                )
            hook = m.Webhook(
                id=new_id("webhook"),
                project_id=caller.project_id,
                url=url,
                events=subscribed,
                secret=secret,
                created_at=utcnow(),
            )
            s.add(hook)
        return hook, secret

    async def _owned(self, s: AsyncSession, caller: Principal, webhook_id: str) -> m.Webhook:
        hook = await repo.get_owned(s, m.Webhook, caller.project_id, webhook_id)
        if hook is None:
            raise NotFound.resource("webhook", webhook_id)
        return hook

    async def get(self, caller: Principal, webhook_id: str) -> m.Webhook:
        v.required("webhook_id", webhook_id)
        async with self.db.read_session() as s:
            return await self._owned(s, caller, webhook_id)

    async def list(self, caller: Principal, page_size: int, page_token: str) -> tuple[Sequence[m.Webhook], str]:
        size = paging.page_size(page_size)
        async with self.db.read_session() as s:
            return await rows.page_webhooks(s, caller.project_id, size, page_token)

    async def delete(self, caller: Principal, webhook_id: str) -> None:
        """Delete the webhook; its deliveries go with it (an attempt in flight still ends, unrecorded)."""
        v.required("webhook_id", webhook_id)
        async with self.db.session() as s:
            await s.delete(await self._owned(s, caller, webhook_id))

    async def deliveries(
        self, caller: Principal, webhook_id: str, status: str, page_size: int, page_token: str
    ) -> tuple[Sequence[m.WebhookDelivery], str]:
        """One page of the webhook's deliveries (only those with `status`, when given), newest first."""
        v.required("webhook_id", webhook_id)
        size = paging.page_size(page_size)
        async with self.db.read_session() as s:
            await self._owned(s, caller, webhook_id)
            return await rows.page_deliveries(s, caller.project_id, webhook_id, status, size, page_token)
