"""Object storage: streaming throughput and memory of S3 client libraries against a loopback moto server, and of
vecflow's uploads on both blob backends.

    .venv/bin/python bench/object_storage.py                      # libraries (256 MiB) and the server (1 GiB)
    .venv/bin/python bench/object_storage.py --libraries --mib 256
    .venv/bin/python bench/object_storage.py --server --server-mib 1024

Libraries: each candidate that is installed (boto3 in worker threads, aiobotocore, obstore) runs in a fresh
process and uploads `--mib` MiB arriving as 1 MiB messages, hashed with sha256 as they come, as one multipart
upload of `--part-mib` parts (two in flight), then downloads it back to a temp file in 1 MiB reads. Printed: MiB/s
each way, and the process's peak RSS above what it had before the upload (sampled every 5 ms and VmHWM).

Server: `vecflow serve` in a subprocess, with `VECFLOW_BLOB_URL` unset (the data dir) and then `s3://…` on the
moto server; one UploadFile of `--server-mib` MiB in 1 MiB messages. Printed: MiB/s and the server's peak RSS
above idle (goal: under 64 MiB for 1 GiB, on both backends).

moto keeps what it is sent in its own process (not measured), so leave it a few GiB of memory.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from common import KEY, SERVERS, free_port, vecflow_server

MIB = 1024 * 1024
BUCKET = "bench"
CANDIDATES = ("boto3", "aiobotocore", "obstore")


def rss(pid: int | str = "self") -> int:
    """Resident memory of a process (bytes)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


class PeakSampler:
    """The highest RSS of a process while it runs, sampled on a thread."""

    def __init__(self, pid: int | str = "self", every: float = 0.005) -> None:
        self.pid, self.every = pid, every
        self.peak = rss(pid)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            try:
                self.peak = max(self.peak, rss(self.pid))
            except OSError:
                return

    def __enter__(self) -> PeakSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def reset_hwm() -> None:
    """Reset this process's VmHWM to its current RSS (Linux: clear_refs 5), so VmHWM is the peak from now on."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def hwm() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


@contextmanager
def moto_server() -> Iterator[str]:
    """A moto S3 server on a free loopback port, in a subprocess; yields its endpoint URL."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("moto server did not start (pip install 'moto[server]')") from None
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def aws_env(endpoint: str) -> dict[str, str]:
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_REGION": "us-east-1",
    }


async def messages(total: int) -> AsyncIterator[bytes]:
    """`total` bytes as 1 MiB messages, each a new bytes object (as gRPC hands them over)."""
    block = memoryview(os.urandom(MIB))
    sent = 0
    while sent < total:
        n = min(MIB, total - sent)
        sent += n
        yield bytes(block[:n])
        await asyncio.sleep(0)


async def hashed_parts(total: int, part: int, digest: Any) -> AsyncIterator[bytes]:
    """The messages, hashed, gathered into parts of `part` bytes (the last may be shorter)."""
    buffer = bytearray()
    async for chunk in messages(total):
        digest.update(chunk)
        buffer += chunk
        if len(buffer) >= part:
            yield buffer  # handed over as it is: a copy would cost another part of memory
            buffer = bytearray()
    if buffer:
        yield buffer


# The candidates: each uploads `total` bytes to `key` and downloads it to `target`, in one process. -------------


async def run_boto3(total: int, part: int, key: str, target: Path) -> tuple[float, float]:
    import boto3

    client = boto3.client("s3")
    client.put_object(Bucket=BUCKET, Key="warm-up", Body=b"x")
    digest = hashlib.sha256()
    started = time.perf_counter()
    upload_id = client.create_multipart_upload(Bucket=BUCKET, Key=key)["UploadId"]
    done: list[dict[str, Any]] = []
    in_flight: set[asyncio.Task[None]] = set()

    async def send(number: int, body: bytes) -> None:
        reply = await asyncio.to_thread(
            client.upload_part, Bucket=BUCKET, Key=key, UploadId=upload_id, PartNumber=number, Body=body
        )
        done.append({"PartNumber": number, "ETag": reply["ETag"]})

    number = 0
    async for body in hashed_parts(total, part, digest):
        number += 1
        if len(in_flight) >= 2:
            finished, in_flight = await asyncio.wait(in_flight, return_when=asyncio.FIRST_COMPLETED)
            for task in finished:
                task.result()
        in_flight.add(asyncio.create_task(send(number, body)))
        del body
    await asyncio.gather(*in_flight)
    done.sort(key=lambda p: p["PartNumber"])
    client.complete_multipart_upload(Bucket=BUCKET, Key=key, UploadId=upload_id, MultipartUpload={"Parts": done})
    up = time.perf_counter() - started

    started = time.perf_counter()

    def download() -> None:
        body = client.get_object(Bucket=BUCKET, Key=key)["Body"]
        with open(target, "wb") as f:
            for chunk in body.iter_chunks(MIB):
                f.write(chunk)

    await asyncio.to_thread(download)
    return up, time.perf_counter() - started


async def run_aiobotocore(total: int, part: int, key: str, target: Path) -> tuple[float, float]:
    from aiobotocore.session import get_session

    async with get_session().create_client("s3") as client:
        await client.put_object(Bucket=BUCKET, Key="warm-up", Body=b"x")
        digest = hashlib.sha256()
        started = time.perf_counter()
        upload_id = (await client.create_multipart_upload(Bucket=BUCKET, Key=key))["UploadId"]
        done: list[dict[str, Any]] = []
        in_flight: set[asyncio.Task[None]] = set()

        async def send(number: int, body: bytes) -> None:
            reply = await client.upload_part(Bucket=BUCKET, Key=key, UploadId=upload_id, PartNumber=number, Body=body)
            done.append({"PartNumber": number, "ETag": reply["ETag"]})

        number = 0
        async for body in hashed_parts(total, part, digest):
            number += 1
            if len(in_flight) >= 2:
                finished, in_flight = await asyncio.wait(in_flight, return_when=asyncio.FIRST_COMPLETED)
                for task in finished:
                    task.result()
            in_flight.add(asyncio.create_task(send(number, body)))
            del body
        await asyncio.gather(*in_flight)
        done.sort(key=lambda p: p["PartNumber"])
        await client.complete_multipart_upload(
            Bucket=BUCKET, Key=key, UploadId=upload_id, MultipartUpload={"Parts": done}
        )
        up = time.perf_counter() - started

        started = time.perf_counter()
        reply = await client.get_object(Bucket=BUCKET, Key=key)
        with open(target, "wb") as f:
            async for chunk in reply["Body"].iter_chunks(MIB):
                await asyncio.to_thread(f.write, chunk)
        return up, time.perf_counter() - started


async def run_obstore(total: int, part: int, key: str, target: Path) -> tuple[float, float]:
    import obstore
    from obstore.store import S3Store

    store = S3Store(
        BUCKET,
        endpoint=os.environ["AWS_ENDPOINT_URL"],
        region=os.environ["AWS_REGION"],
        access_key_id=os.environ["AWS_ACCESS_KEY_ID"],
        secret_access_key=os.environ["AWS_SECRET_ACCESS_KEY"],
        client_options={"allow_http": True},
    )
    await obstore.put_async(store, "warm-up", b"x")
    digest = hashlib.sha256()

    async def hashed() -> AsyncIterator[bytes]:
        async for chunk in messages(total):
            digest.update(chunk)
            yield chunk

    started = time.perf_counter()
    await obstore.put_async(store, key, hashed(), chunk_size=part, max_concurrency=2)
    up = time.perf_counter() - started

    started = time.perf_counter()
    reply = await obstore.get_async(store, key)
    with open(target, "wb") as f:
        async for chunk in reply.stream(min_chunk_size=MIB):
            await asyncio.to_thread(f.write, chunk)
    return up, time.perf_counter() - started


RUNNERS = {"boto3": run_boto3, "aiobotocore": run_aiobotocore, "obstore": run_obstore}


def child(name: str, mib: int, part_mib: int) -> None:
    """One candidate, in this (fresh) process: prints a JSON line of its figures."""
    try:
        __import__(name)
    except ImportError:
        print(json.dumps({"name": name, "missing": True}))
        return
    total, part = mib * MIB, part_mib * MIB
    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / "download"

        async def go() -> dict[str, Any]:
            # Warm up imports and the connection pool on a small object first, so only the streaming is measured.
            await RUNNERS[name](2 * part, part, f"{name}-warm", target)
            target.unlink()
            before = rss()
            reset_hwm()
            with PeakSampler() as sampler:
                up, down = await RUNNERS[name](total, part, f"{name}-object", target)
            return {
                "name": name,
                "up_mibs": mib / up,
                "down_mibs": mib / down,
                "peak_growth": max(sampler.peak, hwm()) - before,
                "size_ok": target.stat().st_size == total,
            }

        print(json.dumps(asyncio.run(go())))


def libraries(mib: int, part_mib: int, only: list[str]) -> None:
    with moto_server() as endpoint:
        env = {**os.environ, **aws_env(endpoint)}
        subprocess.run(
            [sys.executable, "-c", f"import boto3; boto3.client('s3').create_bucket(Bucket={BUCKET!r})"],
            env=env,
            check=False,
        )
        print(f"{mib} MiB in 1 MiB messages, hashed, {part_mib} MiB parts (2 in flight), to moto on loopback")
        print(f"{'library':<12} {'upload MiB/s':>13} {'download MiB/s':>15} {'peak RSS growth':>16}")
        for name in only:
            out = subprocess.run(
                [sys.executable, __file__, "--child", name, "--mib", str(mib), "--part-mib", str(part_mib)],
                env=env,
                capture_output=True,
                text=True,
                check=False,
            )
            lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
            if not lines:
                print(f"{name:<12} failed: {out.stderr.strip().splitlines()[-1:] or out.returncode}")
                continue
            r = json.loads(lines[-1])
            if r.get("missing"):
                print(f"{name:<12} (not installed)")
                continue
            note = "" if r["size_ok"] else "  (download size wrong!)"
            print(f"{name:<12} {r['up_mibs']:>13.1f} {r['down_mibs']:>15.1f} {r['peak_growth'] / MIB:>12.1f} MiB{note}")


# The server: one large UploadFile on each backend. --------------------------------------------------------------


def server(mib: int, backends: list[str]) -> None:
    async def upload(address: str, pid: int) -> tuple[float, int, int]:
        from vecflow_client import VecflowClient
        from vecflow_client.v1 import knowledge_base_service_pb2 as kb_pb2

        async with VecflowClient(address, KEY) as client:
            kbs = client.knowledge_bases
            kb = (await kbs.CreateKnowledgeBase(kb_pb2.CreateKnowledgeBaseRequest(name="bench"))).knowledge_base

            async def requests(name: str, total: int) -> AsyncIterator[kb_pb2.UploadFileRequest]:
                metadata = kb_pb2.UploadFileMetadata(kb_id=kb.id, name=name, parse=False)
                yield kb_pb2.UploadFileRequest(metadata=metadata)
                async for chunk in messages(total):
                    yield kb_pb2.UploadFileRequest(chunk=chunk)

            await kbs.UploadFile(requests("warm-up.bin", 32 * MIB))  # first-use allocations
            await asyncio.sleep(1)
            idle = rss(pid)
            with PeakSampler(pid, every=0.01) as sampler:
                started = time.perf_counter()
                await kbs.UploadFile(requests("big.bin", mib * MIB))
                seconds = time.perf_counter() - started
            return seconds, idle, sampler.peak

    print(f"\nvecflow server: one UploadFile of {mib} MiB in 1 MiB messages (goal: peak RSS growth < 64 MiB)")
    print(f"{'backend':<10} {'MiB/s':>8} {'idle RSS':>10} {'peak RSS growth':>16}")
    common_env = {"VECFLOW_MAX_UPLOAD_BYTES": str(2 * mib * MIB), "VECFLOW_WARM_UP": "false"}
    with moto_server() as endpoint, tempfile.TemporaryDirectory() as tmp:
        env = aws_env(endpoint)
        subprocess.run(
            [sys.executable, "-c", f"import boto3; boto3.client('s3').create_bucket(Bucket={BUCKET!r})"],
            env={**os.environ, **env},
            check=True,
        )
        choices = {"local": {}, "s3": {**env, "VECFLOW_BLOB_URL": f"s3://{BUCKET}/vecflow"}}
        for backend in backends:
            extra = choices[backend]
            data = Path(tmp) / backend / "data"
            data.parent.mkdir(parents=True)
            with vecflow_server(data, **common_env, **extra) as address:
                seconds, idle, peak = asyncio.run(upload(address, SERVERS[address].pid))
            print(f"{backend:<10} {mib / seconds:>8.1f} {idle / MIB:>6.0f} MiB {(peak - idle) / MIB:>12.1f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--libraries", action="store_true", help="only the client libraries")
    parser.add_argument("--server", action="store_true", help="only vecflow's uploads")
    parser.add_argument("--mib", type=int, default=256, help="MiB per library upload (default 256)")
    parser.add_argument("--part-mib", type=int, default=8, help="multipart part size (default 8)")
    parser.add_argument("--server-mib", type=int, default=1024, help="MiB of the server upload (default 1024)")
    parser.add_argument("--only", default=",".join(CANDIDATES), help="libraries to measure, comma-separated")
    parser.add_argument("--backends", default="local,s3", help="server backends to measure: local, s3 or both")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.mib, args.part_mib)
        return
    both = not args.libraries and not args.server
    if args.libraries or both:
        libraries(args.mib, args.part_mib, [n.strip() for n in args.only.split(",") if n.strip()])
    if args.server or both:
        server(args.server_mib, [b.strip() for b in args.backends.split(",") if b.strip()])


if __name__ == "__main__":
    main()
