"""The server as a whole: health, reflection, request ids, metrics, unimplemented RPCs."""

from __future__ import annotations

import asyncio
import urllib.request
from pathlib import Path

import grpc
import pytest
from google.protobuf import descriptor_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from helpers.rpc import all_methods, error_details
from helpers.server import Server, start_server
from vecflow.app import SERVICE_NAMES
from vecflow_client.v1 import knowledge_base_service_pb2 as kb_pb2


async def test_health_serving_for_server_and_each_service(server: Server) -> None:
    stub = health_pb2_grpc.HealthStub(server.channel())
    for name in ("", *SERVICE_NAMES):
        reply = await stub.Check(health_pb2.HealthCheckRequest(service=name))
        assert reply.status == health_pb2.HealthCheckResponse.SERVING, name
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.Check(health_pb2.HealthCheckRequest(service="vecflow.v1.NoSuchService"))
    assert err.value.code() == grpc.StatusCode.NOT_FOUND


async def test_reflection_lists_every_service_and_describes_every_rpc(server: Server) -> None:
    stub = reflection_pb2_grpc.ServerReflectionStub(server.channel())

    async def ask(**kwargs: str) -> reflection_pb2.ServerReflectionResponse:
        async for reply in stub.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(**kwargs)])):
            return reply
        raise AssertionError("no reflection reply")

    listed = {s.name for s in (await ask(list_services="")).list_services_response.service}
    assert set(SERVICE_NAMES) <= listed
    assert "grpc.health.v1.Health" in listed
    described: set[str] = set()
    for service in SERVICE_NAMES:
        reply = await ask(file_containing_symbol=service)
        for raw in reply.file_descriptor_response.file_descriptor_proto:
            fd = descriptor_pb2.FileDescriptorProto.FromString(raw)
            for svc in fd.service:
                described |= {f"{fd.package}.{svc.name}.{m.name}" for m in svc.method}
    assert described == {m.full_name for m in all_methods()}


async def test_request_id_is_echoed_or_generated(server: Server) -> None:
    stubs = server.stubs()
    call = stubs.kbs.ListKnowledgeBases(kb_pb2.ListKnowledgeBasesRequest(), metadata=(("x-request-id", "req-123"),))
    await call
    assert ("x-request-id", "req-123") in tuple(await call.trailing_metadata())
    call = stubs.kbs.ListKnowledgeBases(kb_pb2.ListKnowledgeBasesRequest())
    await call
    generated = dict(await call.trailing_metadata())["x-request-id"]
    assert len(generated) == 32
    # Errors carry it too, so a user can quote it.
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stubs.kbs.GetKnowledgeBase(
            kb_pb2.GetKnowledgeBaseRequest(kb_id="kb_x"), metadata=(("x-request-id", "r9"),)
        )
    assert ("x-request-id", "r9") in tuple(err.value.trailing_metadata())


async def test_invalid_input_gets_bad_request_details(server: Server) -> None:
    stubs = server.stubs()
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stubs.kbs.CreateKnowledgeBase(kb_pb2.CreateKnowledgeBaseRequest(name=""))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    details = error_details(err.value)
    assert details["domain"] == "vecflow.v1"
    assert [f for f, _ in details["violations"]] == ["name"]
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stubs.kbs.ListKnowledgeBases(kb_pb2.ListKnowledgeBasesRequest(page_size=-1))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_details(err.value)["violations"][0][0] == "page_size"


async def test_metrics_endpoint_counts_calls(tmp_path: Path, sqlite_url: str) -> None:
    srv = await start_server(tmp_path, sqlite_url, metrics_address="127.0.0.1:0")
    try:
        stubs = srv.stubs()
        await stubs.kbs.ListKnowledgeBases(kb_pb2.ListKnowledgeBasesRequest())
        with pytest.raises(grpc.aio.AioRpcError):
            await srv.stubs(key="wrong-key-wrong-key-0000").kbs.ListKnowledgeBases(kb_pb2.ListKnowledgeBasesRequest())
        assert srv.app.metrics is not None
        url = f"http://127.0.0.1:{srv.app.metrics.port}/metrics"
        method = "/vecflow.v1.KnowledgeBaseService/ListKnowledgeBases"
        # The server counts a call just after its status went out, so poll briefly.
        for _ in range(50):
            body = urllib.request.urlopen(url, timeout=5).read().decode()
            if f'code="UNAUTHENTICATED",method="{method}"' in body:
                break
            await asyncio.sleep(0.05)
    finally:
        await srv.close()
    assert f'vecflow_grpc_calls_total{{code="OK",method="{method}"}}' in body
    assert f'vecflow_grpc_calls_total{{code="UNAUTHENTICATED",method="{method}"}}' in body
    assert "vecflow_grpc_call_duration_seconds_bucket" in body
