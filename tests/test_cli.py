"""`vecflow serve` and `vecflow admin` as a person runs them: real subprocesses, real signals."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from vecflow_client.v1 import knowledge_base_service_pb2 as kb_pb2
from vecflow_client.v1 import knowledge_base_service_pb2_grpc as kb_grpc

BOOTSTRAP_KEY = "vf_test-bootstrap-key-0123456789abcdef"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def vecflow(*args: str, env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vecflow", *args], env=env, capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "VECFLOW_DATA_DIR": str(tmp_path / "data"),
        "VECFLOW_LISTEN_ADDRESS": f"127.0.0.1:{free_port()}",
        "VECFLOW_METRICS_ADDRESS": "",
        "VECFLOW_AUTH_CACHE_SECONDS": "0",
    }


async def wait_serving(address: str, timeout: float = 30) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    async with grpc.aio.insecure_channel(address) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while True:
            try:
                reply = await stub.Check(health_pb2.HealthCheckRequest(), timeout=1)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.aio.AioRpcError:
                pass
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"server at {address} never became SERVING")
            await asyncio.sleep(0.1)


async def list_kbs(address: str, key: str) -> list[str]:
    async with grpc.aio.insecure_channel(address) as channel:
        reply = await kb_grpc.KnowledgeBaseServiceStub(channel).ListKnowledgeBases(
            kb_pb2.ListKnowledgeBasesRequest(), metadata=(("x-api-key", key),), timeout=5
        )
        return [kb.name for kb in reply.knowledge_bases]


async def test_serve_bootstraps_serves_and_stops_cleanly_on_sigterm(env: dict[str, str]) -> None:
    env["VECFLOW_BOOTSTRAP_API_KEY"] = BOOTSTRAP_KEY
    address = env["VECFLOW_LISTEN_ADDRESS"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "vecflow", "serve"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        await wait_serving(address)
        assert await list_kbs(address, BOOTSTRAP_KEY) == []
        async with grpc.aio.insecure_channel(address) as channel:
            await kb_grpc.KnowledgeBaseServiceStub(channel).CreateKnowledgeBase(
                kb_pb2.CreateKnowledgeBaseRequest(name="from-cli-test"), metadata=(("x-api-key", BOOTSTRAP_KEY),)
            )
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "VECFLOW_BOOTSTRAP_API_KEY" in out and BOOTSTRAP_KEY not in out  # a known key is never echoed
    assert f"vecflow listening on {address}" in out
    assert '"msg": "stopped"' in err and '"code": "OK"' in err

    # Started again on the same data directory: same data, no second bootstrap.
    proc = subprocess.Popen(
        [sys.executable, "-m", "vecflow", "serve"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        await wait_serving(address)
        assert await list_kbs(address, BOOTSTRAP_KEY) == ["from-cli-test"]
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0 and "Created" not in out


async def test_generated_bootstrap_key_is_printed_once(env: dict[str, str]) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "vecflow", "serve"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        await wait_serving(env["VECFLOW_LISTEN_ADDRESS"])
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    key = next(line.split(": ", 1)[1] for line in out.splitlines() if line.strip().startswith("API key:"))
    assert key.startswith("vf_") and len(key) > 40


async def test_admin_creates_tenants_and_keys_that_the_server_accepts(env: dict[str, str]) -> None:
    made = vecflow("admin", "init", "--account", "acme", "--project", "search", env=env)
    assert made.returncode == 0, made.stderr
    pairs = (line.strip().split(": ", 1) for line in made.stdout.splitlines() if ": " in line)
    fields = {k.strip(): v.strip() for k, v in pairs}
    key, key_id, project = fields["API key"], fields["key id"], fields["project"]
    listed = vecflow("admin", "--json", "list-keys", "--project", project, env=env)
    assert key_id in listed.stdout and key not in listed.stdout  # keys are stored hashed
    again = vecflow("admin", "create-account", "acme", env=env)
    assert again.returncode == 1 and "already exists" in again.stderr

    proc = subprocess.Popen(
        [sys.executable, "-m", "vecflow", "serve"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    address = env["VECFLOW_LISTEN_ADDRESS"]
    try:
        await wait_serving(address)
        assert await list_kbs(address, key) == []
        revoked = vecflow("admin", "revoke-key", key_id, env=env)
        assert revoked.returncode == 0, revoked.stderr
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await list_kbs(address, key)
        assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
    finally:
        proc.terminate()
        proc.communicate(timeout=30)


def test_bad_configuration_is_reported_not_crashed(env: dict[str, str]) -> None:
    env["VECFLOW_LISTEN_ADDRESS"] = "no-port-here"
    result = vecflow("serve", env=env)
    assert result.returncode == 2
    assert "VECFLOW_LISTEN_ADDRESS" in result.stderr and "host:port" in result.stderr
    assert "Traceback" not in result.stderr
