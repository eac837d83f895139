"""A real vecflow server in the test process, on a loopback port, and generated stubs that call it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from vecflow.app import App
from vecflow.config import Settings
from vecflow.services.auth import IssuedKey
from vecflow_client import metadata_interceptors
from vecflow_client.v1 import (
    job_service_pb2_grpc,
    knowledge_base_service_pb2_grpc,
    parse_service_pb2_grpc,
    upsertion_task_service_pb2_grpc,
    vector_store_service_pb2_grpc,
)


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


JOB_SETTINGS: dict[str, Any] = {
    "job_plugins": ("helpers.job_plugins:register",),
    "job_lease_seconds": 1.5,
    "job_poll_seconds": 0.1,
    "watch_heartbeat_seconds": 0.3,
}
