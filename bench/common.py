"""Shared helpers for the benchmarks: a vecflow server in a subprocess, SciFact loading, timing."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SCIFACT = ROOT.parent / "shared" / "data" / "scifact"
KEY = "vf_bench-key-0000000000000000000000"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def require_scifact() -> Path:
    if not (SCIFACT / "corpus.jsonl").exists():
        sys.exit(f"SciFact not found at {SCIFACT} (it lives in ../shared beside the project checkout)")
    return SCIFACT


def load_corpus(limit: int | None = None) -> list[dict[str, Any]]:
    docs = []
    with open(require_scifact() / "corpus.jsonl") as f:
        for line in f:
            docs.append(json.loads(line))
            if limit and len(docs) >= limit:
                break
    return docs


def document_text(doc: dict[str, Any]) -> str:
    return f"{doc['title']}\n\n{doc['text']}"


SERVERS: dict[str, subprocess.Popen[bytes]] = {}  # address → the process serving it, while it runs


@contextmanager
def vecflow_server(data_dir: Path, **env_overrides: str) -> Iterator[str]:
    """Run `vecflow serve` on a free loopback port; yields its address (its process is SERVERS[address])."""
    port = free_port()
    env = {
        **os.environ,
        "VECFLOW_DATA_DIR": str(data_dir),
        "VECFLOW_LISTEN_ADDRESS": f"127.0.0.1:{port}",
        "VECFLOW_METRICS_ADDRESS": "",
        "VECFLOW_BOOTSTRAP_API_KEY": KEY,
        "VECFLOW_LOG_LEVEL": "WARNING",
        **env_overrides,
    }
    log = open(data_dir.parent / f"server-{port}.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "vecflow", "serve"], env=env, stdout=log, stderr=log)
    SERVERS[f"127.0.0.1:{port}"] = proc
    try:
        asyncio.run(_wait_ready(f"127.0.0.1:{port}"))
        yield f"127.0.0.1:{port}"
    finally:
        SERVERS.pop(f"127.0.0.1:{port}", None)
        proc.terminate()
        proc.wait(timeout=60)
        log.close()


def tree_cpu_seconds(pid: int, descendants: bool = True) -> float:
    """CPU time (user + system) used so far by a process and (unless told not to) all its descendants that
    are still alive."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    todo = [pid]
    while todo:
        current = todo.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            # Each thread lists the children it started.
            children = [
                c for task in Path(f"/proc/{current}/task").iterdir() for c in (task / "children").read_text().split()
            ]
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / ticks
        if descendants:
            todo += [int(c) for c in children]
    return total


def metric(address: str, name: str) -> float:
    """The value of one unlabelled Prometheus metric at `address` (host:port)."""
    import urllib.request

    with urllib.request.urlopen(f"http://{address}/metrics", timeout=10) as reply:
        for line in reply.read().decode().splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
    raise KeyError(f"{name} is not among the metrics at {address}")


@contextmanager
def stub_embeddings(dimension: int = 384) -> Iterator[str]:
    """An OpenAI-compatible /v1/embeddings endpoint on loopback that answers at once with the same unit
    vector for every input: a model that costs nothing, to measure what the service itself costs.
    Yields its base URL (for VECFLOW_EMBEDDING_ENDPOINT)."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    vector = [1.0] + [0.0] * (dimension - 1)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
            data = [{"object": "embedding", "index": i, "embedding": vector} for i in range(len(texts))]
            reply = json.dumps({"object": "list", "model": body.get("model", "stub"), "data": data}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


async def _wait_ready(address: str) -> None:
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    deadline = time.time() + 120
    async with grpc.aio.insecure_channel(address) as channel:
        while time.time() < deadline:
            try:
                reply = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=1)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.aio.AioRpcError:
                pass
            await asyncio.sleep(0.2)
    raise RuntimeError(f"vecflow at {address} did not become ready")


async def upload_documents(client: Any, kb_id: str, docs: list[dict[str, Any]], concurrency: int = 8) -> list[Any]:
    """Upload each document as a .txt file; returns the UploadFileResponses in order."""
    from vecflow_client.v1 import knowledge_base_service_pb2 as kb_pb2

    semaphore = asyncio.Semaphore(concurrency)

    async def one(doc: dict[str, Any]) -> Any:
        async def messages() -> AsyncIterator[Any]:
            yield kb_pb2.UploadFileRequest(metadata=kb_pb2.UploadFileMetadata(kb_id=kb_id, name=f"{doc['_id']}.txt"))
            yield kb_pb2.UploadFileRequest(chunk=document_text(doc).encode())

        async with semaphore:
            return await client.knowledge_bases.UploadFile(messages())

    return await asyncio.gather(*(one(d) for d in docs))


async def wait_parsed(client: Any, kb_id: str, total: int) -> None:
    """Poll until no file of the knowledge base is still pending (no need for thousands of watch streams)."""
    from vecflow_client.v1 import knowledge_base_service_pb2 as kb_pb2

    while True:
        pending = await client.knowledge_bases.ListFiles(
            kb_pb2.ListFilesRequest(kb_id=kb_id, parse_state=kb_pb2.PARSE_STATE_PENDING, page_size=1)
        )
        if not pending.files:
            break
        await asyncio.sleep(1)
    failed = await client.knowledge_bases.ListFiles(
        kb_pb2.ListFilesRequest(kb_id=kb_id, parse_state=kb_pb2.PARSE_STATE_FAILED, page_size=5)
    )
    assert not failed.files, f"parse failed: {failed.files[0].name}: {failed.files[0].parse_error}"
