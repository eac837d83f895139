"""Calling any RPC of the contract generically, and reading a failed call's rich error details."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import grpc

SERVICE_MODULES = (
    "vecflow_client.v1.job_service_pb2",
    "vecflow_client.v1.knowledge_base_service_pb2",
    "vecflow_client.v1.parse_service_pb2",
    "vecflow_client.v1.vector_store_service_pb2",
    "vecflow_client.v1.upsertion_task_service_pb2",
    "vecflow_client.v1.webhook_service_pb2",
)


def all_methods() -> list[Any]:
    """Every MethodDescriptor of every vecflow.v1 service."""
    import importlib

    methods = []
    for name in SERVICE_MODULES:
        module = importlib.import_module(name)
        for service in module.DESCRIPTOR.services_by_name.values():
            methods.extend(service.methods)
    return methods


async def call_any(channel: grpc.aio.Channel, method: Any, request: Any, timeout: float = 10) -> grpc.StatusCode:
    """Call one RPC (any streaming shape) with `request`; return the status code it ends with."""
    from google.protobuf import message_factory

    path = f"/{method.containing_service.full_name}/{method.name}"
    response_cls = message_factory.GetMessageClass(method.output_type)
    kwargs = {"request_serializer": lambda m: m.SerializeToString(), "response_deserializer": response_cls.FromString}
    try:
        if method.client_streaming:

            async def requests() -> AsyncIterator[Any]:
                yield request

            await channel.stream_unary(path, **kwargs)(requests(), timeout=timeout)
        elif method.server_streaming:
            async for _ in channel.unary_stream(path, **kwargs)(request, timeout=timeout):
                break
        else:
            await channel.unary_unary(path, **kwargs)(request, timeout=timeout)
    except grpc.aio.AioRpcError as err:
        return err.code()
    return grpc.StatusCode.OK


def error_details(err: grpc.aio.AioRpcError) -> dict[str, Any]:
    """ErrorInfo and BadRequest details of a failed call, unpacked."""
    from google.rpc import error_details_pb2, status_pb2

    out: dict[str, Any] = {"reason": None, "metadata": {}, "violations": []}
    for key, value in err.trailing_metadata() or ():
        if key != "grpc-status-details-bin":
            continue
        status = status_pb2.Status.FromString(value)
        for detail in status.details:
            if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
                info = error_details_pb2.ErrorInfo()
                detail.Unpack(info)
                out["reason"], out["domain"], out["metadata"] = info.reason, info.domain, dict(info.metadata)
            elif detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
                bad = error_details_pb2.BadRequest()
                detail.Unpack(bad)
                out["violations"] = [(v.field, v.description) for v in bad.field_violations]
    return out
