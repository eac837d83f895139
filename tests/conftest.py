"""Fixtures: a real vecflow server on a loopback port, over SQLite files or PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import pytest
from sqlalchemy.engine import make_url
from vecflow.app import App
from vecflow.config import Settings
from vecflow.services.auth import IssuedKey
from vecflow.v1 import (
    job_service_pb2_grpc,
    knowledge_base_service_pb2_grpc,
    parse_service_pb2_grpc,
    upsertion_task_service_pb2_grpc,
    vector_store_service_pb2_grpc,
)
from vecflow_client import metadata_interceptors

POSTGRES_ENV = "VECFLOW_TEST_POSTGRES_URL"
BACKENDS = ["sqlite", "postgres"]


async def _create_pg_database(base_url: str) -> tuple[str, str]:
    import asyncpg

    name = f"vf_test_{uuid.uuid4().hex[:12]}"
    url = make_url(base_url)
    conn = await asyncpg.connect(url.set(drivername="postgresql").render_as_string(hide_password=False))
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return url.set(database=name).render_as_string(hide_password=False), name


async def _drop_pg_database(base_url: str, name: str) -> None:
    import asyncpg

    url = make_url(base_url).set(drivername="postgresql")
    conn = await asyncpg.connect(url.render_as_string(hide_password=False))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@pytest.fixture(params=BACKENDS)
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A fresh, empty database: a SQLite file, or a new PostgreSQL database (dropped afterwards)."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'vecflow.db'}"
        return
    base = os.environ.get(POSTGRES_ENV)
    if not base:
        pytest.skip(f"{POSTGRES_ENV} is not set (e.g. postgresql+asyncpg://postgres@127.0.0.1:5432/test)")
    url, name = await _create_pg_database(base)
    try:
        yield url
    finally:
        await _drop_pg_database(base, name)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'vecflow.db'}"


@dataclass
class Stubs:
    jobs: job_service_pb2_grpc.JobServiceStub
    kbs: knowledge_base_service_pb2_grpc.KnowledgeBaseServiceStub
    parse: parse_service_pb2_grpc.ParseServiceStub
    stores: vector_store_service_pb2_grpc.VectorStoreServiceStub
    tasks: upsertion_task_service_pb2_grpc.UpsertionTaskServiceStub

    @classmethod
    def on(cls, channel: grpc.aio.Channel) -> Stubs:
        return cls(
            jobs=job_service_pb2_grpc.JobServiceStub(channel),
            kbs=knowledge_base_service_pb2_grpc.KnowledgeBaseServiceStub(channel),
            parse=parse_service_pb2_grpc.ParseServiceStub(channel),
            stores=vector_store_service_pb2_grpc.VectorStoreServiceStub(channel),
            tasks=upsertion_task_service_pb2_grpc.UpsertionTaskServiceStub(channel),
        )


@dataclass
class Server:
    """A running in-process server and ways to call it."""

    app: App
    key: IssuedKey
    channels: list[grpc.aio.Channel] = field(default_factory=list)

    @property
    def address(self) -> str:
        return self.app.address

    def channel(self, metadata: tuple[tuple[str, str], ...] = ()) -> grpc.aio.Channel:
        interceptors = metadata_interceptors(metadata) if metadata else None
        ch = grpc.aio.insecure_channel(self.address, interceptors=interceptors)
        self.channels.append(ch)
        return ch

    def stubs(self, key: str | None = None, **extra: str) -> Stubs:
        """Stubs that send `key` (default: the bootstrap key) as x-api-key, plus extra metadata."""
        md = [("x-api-key", self.key.secret if key is None else key)]
        md += [(k.replace("_", "-"), v) for k, v in extra.items()]
        return Stubs.on(self.channel(tuple(md)))

    async def tenant(self, name: str | None = None) -> IssuedKey:
        """A new account with one project and a key: another tenant."""
        account = await self.app.auth.create_account(name or f"acct-{uuid.uuid4().hex[:8]}")
        project = await self.app.auth.create_project(account.id, "main")
        return await self.app.auth.create_key(project.id)

    async def close(self) -> None:
        for ch in self.channels:
            await ch.close()
        await self.app.stop(grace=1)


async def start_server(tmp_path: Path, database_url: str, key: IssuedKey | None = None, **overrides: Any) -> Server:
    """Start a server; on a fresh database its bootstrap key is used, else pass the `key` to call with."""
    values: dict[str, Any] = {
        "listen_address": "127.0.0.1:0",
        "data_dir": tmp_path / "data",
        "database_url": database_url,
        "metrics_address": "",
        "auth_cache_seconds": 0.0,
        "warm_up": False,  # most tests never embed; those that do load the model once per process
    }
    values.update(overrides)
    settings = Settings.from_env(env={}, **values)
    app = App(settings)
    await app.start()
    issued = key or app.bootstrap_key
    assert issued is not None, "a fresh database must be bootstrapped, or a key given"
    return Server(app=app, key=issued)


@pytest.fixture
async def server(tmp_path: Path, sqlite_url: str) -> AsyncIterator[Server]:
    """A server on a fresh SQLite database."""
    srv = await start_server(tmp_path, sqlite_url)
    try:
        yield srv
    finally:
        await srv.close()


@pytest.fixture
async def any_server(tmp_path: Path, database_url: str) -> AsyncIterator[Server]:
    """A server on each backend (SQLite, and PostgreSQL when configured)."""
    srv = await start_server(tmp_path, database_url)
    try:
        yield srv
    finally:
        await srv.close()


# Calling any RPC of the contract generically ------------------------------------------

SERVICE_MODULES = (
    "vecflow.v1.job_service_pb2",
    "vecflow.v1.knowledge_base_service_pb2",
    "vecflow.v1.parse_service_pb2",
    "vecflow.v1.vector_store_service_pb2",
    "vecflow.v1.upsertion_task_service_pb2",
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


JOB_SETTINGS: dict[str, Any] = {
    "job_plugins": ("job_plugins:register",),
    "job_lease_seconds": 1.5,
    "job_poll_seconds": 0.1,
    "watch_heartbeat_seconds": 0.3,
}


@pytest.fixture
async def job_server(tmp_path: Path, sqlite_url: str) -> AsyncIterator[Server]:
    """A server running the test job handlers (tests/job_plugins.py) with short leases."""
    srv = await start_server(tmp_path, sqlite_url, **JOB_SETTINGS)
    try:
        yield srv
    finally:
        await srv.close()
