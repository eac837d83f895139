"""Helpers shared by the servicers: request-id replay and the not-yet-served answer."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from google.protobuf.message import Message

from vecflow import validation
from vecflow.api import context as call
from vecflow.errors import Unimplemented
from vecflow.services.idempotency import IdempotencyService

R = TypeVar("R", bound=Message)


async def idempotent(
    store: IdempotencyService,
    method: str,
    request: Message,
    response_type: type[R],
    produce: Callable[[], Awaitable[R]],
) -> R:
    """Run `produce` once per request_id; a retry with the same id gets the first response back."""
    request_id = validation.request_id(getattr(request, "request_id", ""))
    if not request_id:
        return await produce()
    body = type(request)()
    body.CopyFrom(request)
    body.ClearField("request_id")

    async def produce_bytes() -> bytes:
        return (await produce()).SerializeToString(deterministic=True)

    raw = await store.run(
        call.principal().project_id, request_id, method, body.SerializeToString(deterministic=True), produce_bytes
    )
    return response_type.FromString(raw)


def not_yet(rpc: str, feature: str) -> Unimplemented:
    """The error for an RPC of the v1 contract whose behaviour this release does not serve yet."""
    return Unimplemented(
        f"vecflow.v1.{rpc} is part of the v1 contract but this server does not serve it yet ({feature}); "
        "the request was valid and nothing was changed",
        reason="NOT_IMPLEMENTED",
        metadata={"rpc": rpc},
    )
