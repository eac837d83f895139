"""`vecflow health` (the container probe) against real servers on loopback ports.

The command runs as a subprocess (the installed `vecflow` executable, as a Docker HEALTHCHECK runs it) while
the server runs in this process: an api+jobs server on SQLite, one shutting down, one stopped, a socket that
never answers, and a worker replica on PostgreSQL (skipped without VECFLOW_TEST_POSTGRES_URL).
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sys
from dataclasses import dataclass
from pathlib import Path

from helpers.server import Server, start_server

EXECUTABLE = Path(sys.executable).with_name("vecflow")
COMMAND = [str(EXECUTABLE)] if EXECUTABLE.exists() else [sys.executable, "-m", "vecflow_client.cli"]


@dataclass
class Result:
    code: int
    out: str
    err: str


async def health(tmp_path: Path, *args: str, **env: str) -> Result:
    """Run `vecflow health ARGS` without blocking the loop the in-process server answers on."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("VECFLOW_")}
    proc = await asyncio.create_subprocess_exec(
        *COMMAND,
        "health",
        *args,
        env={**base, "XDG_CONFIG_HOME": str(tmp_path / "xdg"), **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode is not None
    return Result(proc.returncode, out.decode(), err.decode())


async def test_serving_per_service_and_unknown(tmp_path: Path, server: Server) -> None:
    address = server.address
    got = await health(tmp_path, "--address", address)
    assert (got.code, got.out, got.err) == (0, f"{address}: SERVING\n", "")

    # The address from the environment, as the other client commands take it; a key is sent and ignored.
    got = await health(tmp_path, "--service", "vecflow.v1.JobService", VECFLOW_ADDRESS=address, VECFLOW_API_KEY="x")
    assert (got.code, got.out) == (0, f"{address} vecflow.v1.JobService: SERVING\n")

    got = await health(tmp_path, "--json", VECFLOW_ADDRESS=address)
    assert got.code == 0
    assert json.loads(got.out) == {"address": address, "service": "", "status": "SERVING"}

    got = await health(tmp_path, "--address", address, "--service", "vecflow.v1.NoSuchService")
    assert (got.code, got.out) == (1, "")
    assert got.err == f"vecflow: {address} does not know service 'vecflow.v1.NoSuchService'\n"

    got = await health(tmp_path, "--address", address, "--timeout", "-1")
    assert (got.code, got.err) == (2, "vecflow: --timeout must be a positive number of seconds, not -1\n")


async def test_not_serving_while_shutting_down(tmp_path: Path, server: Server) -> None:
    await server.app.health.enter_graceful_shutdown()  # the first step of App.stop (SIGTERM)
    got = await health(tmp_path, "--address", server.address)
    assert (got.code, got.out) == (1, f"{server.address}: NOT_SERVING\n")
    got = await health(tmp_path, "--address", server.address, "--json")
    assert got.code == 1
    assert json.loads(got.out)["status"] == "NOT_SERVING"


async def test_stopped_server_and_silent_socket(tmp_path: Path, sqlite_url: str) -> None:
    srv = await start_server(tmp_path, sqlite_url)
    address = srv.address
    await srv.close()
    got = await health(tmp_path, "--address", address)
    assert (got.code, got.out) == (2, "")
    assert got.err.startswith(f"vecflow: cannot reach the server at {address}: ")
    assert got.err.count("\n") == 1
    got = await health(tmp_path, "--address", address, "--json")
    assert got.code == 2
    assert json.loads(got.err)["status"] == "UNAVAILABLE"

    with socket.socket() as silent:  # accepts TCP connections (the kernel's backlog) but never speaks HTTP/2
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        address = f"127.0.0.1:{silent.getsockname()[1]}"
        got = await health(tmp_path, "--address", address, "--timeout", "0.5")
    assert (got.code, got.err) == (2, f"vecflow: no health answer from {address} within 0.5 s\n")


async def test_worker_replica(tmp_path: Path, postgres_url: str) -> None:
    worker = await start_server(tmp_path, postgres_url, role="worker")
    try:
        got = await health(tmp_path, "--address", worker.address)
        assert (got.code, got.out) == (0, f"{worker.address}: SERVING\n")
        got = await health(tmp_path, "--address", worker.address, "--service", "vecflow.v1.JobService")
        assert got.code == 1  # a worker serves no API: its services are unknown to its health service
        assert "does not know service 'vecflow.v1.JobService'" in got.err
    finally:
        await worker.close()
