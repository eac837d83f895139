"""vecflow.v1.WebhookService handlers, and the Webhook and WebhookDelivery messages."""

from __future__ import annotations

from typing import TypeAlias

import grpc
from vecflow_client.v1 import common_pb2
from vecflow_client.v1 import webhook_service_pb2 as pb
from vecflow_client.v1 import webhook_service_pb2_grpc as rpc

from vecflow.api import context as call
from vecflow.api.common import idempotent
from vecflow.api.convert import EnumWords, ts
from vecflow.services.idempotency import IdempotencyService
from vecflow.services.webhooks import WebhookService
from vecflow.storage import models as m

Ctx: TypeAlias = grpc.aio.ServicerContext

DELIVERY_STATUS = EnumWords(pb.WebhookDeliveryStatus, "WEBHOOK_DELIVERY_STATUS_")


def webhook(row: m.Webhook) -> pb.Webhook:
    return pb.Webhook(
        id=row.id,
        object="webhook",
        project_id=row.project_id,
        url=row.url,
        events=list(row.events or []),
        created_at=ts(row.created_at),
    )


def delivery(row: m.WebhookDelivery) -> pb.WebhookDelivery:
    out = pb.WebhookDelivery(
        id=row.id,
        object="webhook_delivery",
        webhook_id=row.webhook_id,
        project_id=row.project_id,
        event=row.event,
        status=DELIVERY_STATUS.value(row.status),
        attempts=row.attempts,
        last_response_code=row.last_response_code,
        payload=row.payload,
        created_at=ts(row.created_at),
        last_attempt_at=ts(row.last_attempt_at),
        next_attempt_at=ts(row.next_attempt_at),
        completed_at=ts(row.completed_at),
    )
    if row.last_error_code:
        out.last_error.CopyFrom(common_pb2.ErrorSummary(code=row.last_error_code, message=row.last_error_message))
    return out


class WebhookServicer(rpc.WebhookServiceServicer):
    def __init__(self, webhooks: WebhookService, idempotency: IdempotencyService) -> None:
        self.webhooks = webhooks
        self.idempotency = idempotency

    async def CreateWebhook(self, request: pb.CreateWebhookRequest, context: Ctx) -> pb.CreateWebhookResponse:
        async def produce() -> pb.CreateWebhookResponse:
            row, secret = await self.webhooks.create(
                call.principal(), request.url, list(request.events), request.secret
            )
            return pb.CreateWebhookResponse(webhook=webhook(row), secret=secret)

        return await idempotent(self.idempotency, "CreateWebhook", request, pb.CreateWebhookResponse, produce)

    async def GetWebhook(self, request: pb.GetWebhookRequest, context: Ctx) -> pb.GetWebhookResponse:
        return pb.GetWebhookResponse(webhook=webhook(await self.webhooks.get(call.principal(), request.webhook_id)))

    async def ListWebhooks(self, request: pb.ListWebhooksRequest, context: Ctx) -> pb.ListWebhooksResponse:
        rows, token = await self.webhooks.list(call.principal(), request.page_size, request.page_token)
        return pb.ListWebhooksResponse(webhooks=[webhook(r) for r in rows], next_page_token=token)

    async def DeleteWebhook(self, request: pb.DeleteWebhookRequest, context: Ctx) -> pb.DeleteWebhookResponse:
        async def produce() -> pb.DeleteWebhookResponse:
            await self.webhooks.delete(call.principal(), request.webhook_id)
            return pb.DeleteWebhookResponse(webhook_id=request.webhook_id)

        return await idempotent(self.idempotency, "DeleteWebhook", request, pb.DeleteWebhookResponse, produce)

    async def ListWebhookDeliveries(
        self, request: pb.ListWebhookDeliveriesRequest, context: Ctx
    ) -> pb.ListWebhookDeliveriesResponse:
        rows, token = await self.webhooks.deliveries(
            call.principal(),
            request.webhook_id,
            DELIVERY_STATUS.word(request.status),
            request.page_size,
            request.page_token,
        )
        return pb.ListWebhookDeliveriesResponse(deliveries=[delivery(r) for r in rows], next_page_token=token)
