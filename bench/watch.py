"""WatchJob fan-out benchmark: vecflow against a bare grpc.aio broadcast, measured in the same run.

    .venv/bin/python bench/watch.py                  # full run (N = 1, 100, 1000 watchers)
    .venv/bin/python bench/watch.py --quick          # smaller, for a smoke test

For each scenario one job emits events at a fixed rate (then as fast as it can) while N watchers,
spread over several client processes, stream WatchJob on loopback. Printed per scenario and server:
events/s emitted, delivery latency from commit to client receipt (p50 / p99 / max), deliveries/s,
and the server's peak RSS. The bare broadcast serves the same WatchJob RPC from an in-memory queue
per stream with no database: the ceiling. Ratios are vecflow / bare.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
KEY = "vf_bench-key-0000000000000000000000"
STREAMS_PER_CHANNEL = 100


# --- the job the vecflow server runs (loaded as a plugin: VECFLOW_JOB_PLUGINS=watch:register) ----------


async def emit_job(ctx: Any) -> dict[str, Any]:
    p = ctx.params
    await asyncio.sleep(max(0.0, p["start_at"] - time.time()))
    count, rate = p["events"], p["rate"]
    interval = 1.0 / rate if rate else 0.0
    begin = time.monotonic()
    for i in range(count):
        if interval:
            await asyncio.sleep(max(0.0, begin + i * interval - time.monotonic()))
        await ctx.engine.emit(ctx, "emit", "progress", details={"i": i})
    return {"events": count, "seconds": time.monotonic() - begin}


def register(engine: Any) -> None:
    engine.register("bench.emit", emit_job)


# --- the bare broadcast server: same RPC, in-memory queues, no database ---------------------------------


async def bare_server(port: int, events: int, rate: float, start_at: float) -> None:
    import grpc
    from google.protobuf.timestamp_pb2 import Timestamp
    from vecflow_client.v1 import job_pb2, job_service_pb2, job_service_pb2_grpc

    queues: set[asyncio.Queue[Any]] = set()

    class Bare(job_service_pb2_grpc.JobServiceServicer):
        async def WatchJob(self, request: Any, context: Any) -> Any:
            queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=100_000)
            queues.add(queue)
            # Like vecflow's replay of the job's first events: the client knows it is subscribed.
            yield job_service_pb2.WatchJobResponse(event=job_pb2.JobHistoryEvent(sequence=0, step="hello"))
            try:
                while True:
                    message = await queue.get()
                    if message is None:
                        return
                    yield message
            finally:
                queues.discard(queue)

    server = grpc.aio.server()
    job_service_pb2_grpc.add_JobServiceServicer_to_server(Bare(), server)
    server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    await asyncio.sleep(max(0.0, start_at - time.time()))
    interval = 1.0 / rate if rate else 0.0
    begin = time.monotonic()
    for i in range(events):
        if interval:
            await asyncio.sleep(max(0.0, begin + i * interval - time.monotonic()))
        else:
            await asyncio.sleep(0)
        stamp = Timestamp()
        stamp.GetCurrentTime()
        status = job_pb2.JOB_STATUS_SUCCEEDED if i == events - 1 else job_pb2.JOB_STATUS_RUNNING
        message = job_service_pb2.WatchJobResponse(
            event=job_pb2.JobHistoryEvent(sequence=i + 1, step="emit", timestamp=stamp, job_status=status)
        )
        for queue in tuple(queues):
            queue.put_nowait(message)
    for queue in tuple(queues):
        queue.put_nowait(None)
    for _ in range(600):  # until every stream has ended
        if not queues:
            break
        await asyncio.sleep(0.1)
    await server.stop(5)


# --- watcher processes ----------------------------------------------------------------------------------


async def watchers(address: str, job_id: str, streams: int, ready_file: str) -> None:
    import grpc
    from vecflow_client.v1 import job_service_pb2, job_service_pb2_grpc

    n_channels = (streams + STREAMS_PER_CHANNEL - 1) // STREAMS_PER_CHANNEL
    channels = [grpc.aio.insecure_channel(address) for _ in range(n_channels)]
    latencies: list[float] = []
    counts: list[int] = []
    first_last: list[float] = []
    subscribed = 0
    all_subscribed = asyncio.Event()

    async def one(i: int) -> None:
        nonlocal subscribed
        stub = job_service_pb2_grpc.JobServiceStub(channels[i // STREAMS_PER_CHANNEL])
        received, first = 0, True
        call = stub.WatchJob(job_service_pb2.WatchJobRequest(job_id=job_id), metadata=(("x-api-key", KEY),))
        try:
            async for message in call:
                now = time.time()
                if first:  # the first message (vecflow's replay, the bare server's hello): subscribed
                    first = False
                    subscribed += 1
                    if subscribed == streams:
                        all_subscribed.set()
                if message.HasField("event") and message.event.step == "emit":
                    ts = message.event.timestamp
                    latencies.append(now - (ts.seconds + ts.nanos / 1e9))
                    first_last.append(now)
                    received += 1
        except grpc.aio.AioRpcError as err:
            print(f"stream {i} ended with {err.code().name}: {err.details()}", file=sys.stderr)
        counts.append(received)

    tasks = [asyncio.create_task(one(i)) for i in range(streams)]
    await all_subscribed.wait()  # every stream is subscribed before the job starts emitting
    Path(ready_file).write_text("ready")
    await asyncio.gather(*tasks)
    for channel in channels:
        await channel.close()
    summary = {
        "latencies": latencies,
        "counts": counts,
        "first": min(first_last, default=0),
        "last": max(first_last, default=0),
    }
    print(json.dumps(summary))


# --- orchestration -----------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run_watchers(address: str, job_id: str, n: int, procs: int, tmp: Path) -> list[subprocess.Popen[str]]:
    per = [n // procs + (1 if i < n % procs else 0) for i in range(procs)]
    started = []
    for i, count in enumerate(c for c in per if c):
        ready = tmp / f"ready-{job_id}-{i}"
        started.append(
            (
                ready,
                subprocess.Popen(
                    [
                        sys.executable,
                        __file__,
                        "--role",
                        "watchers",
                        "--address",
                        address,
                        "--job",
                        job_id,
                        "--streams",
                        str(count),
                        "--ready",
                        str(ready),
                    ],
                    stdout=subprocess.PIPE,
                    text=True,
                ),
            )
        )
    deadline = time.time() + 120
    while not all(r.exists() for r, _ in started):
        if time.time() > deadline:
            raise RuntimeError("watchers did not connect in time")
        time.sleep(0.05)
    return [p for _, p in started]


def collect(procs: list[subprocess.Popen[str]]) -> dict[str, Any]:
    lat: list[float] = []
    counts: list[int] = []
    first, last = float("inf"), 0.0
    for proc in procs:
        out, _ = proc.communicate(timeout=600)
        data = json.loads(out.strip().splitlines()[-1])
        lat += data["latencies"]
        counts += data["counts"]
        if data["counts"]:
            first, last = min(first, data["first"]), max(last, data["last"])
    span = max(last - first, 1e-9)
    return {"lat": lat, "counts": counts, "deliveries_per_s": len(lat) / span}


def summarise(name: str, result: dict[str, Any], events: int, rss: float, emit_seconds: float) -> dict[str, Any]:
    lat_ms = [x * 1000 for x in result["lat"]]
    row = {
        "server": name,
        "events_per_s": events / emit_seconds if emit_seconds else float("nan"),
        "p50_ms": percentile(lat_ms, 0.50),
        "p99_ms": percentile(lat_ms, 0.99),
        "max_ms": max(lat_ms, default=float("nan")),
        "deliveries_per_s": result["deliveries_per_s"],
        "complete": all(c == events for c in result["counts"]),
        "rss_mib": rss,
    }
    return row


def scenario_vecflow(n: int, events: int, rate: float, procs: int, tmp: Path) -> dict[str, Any]:
    port = free_port()
    data = tmp / f"vf-{n}-{rate}-{time.time_ns()}"
    env = {
        **os.environ,
        "VECFLOW_DATA_DIR": str(data),
        "VECFLOW_LISTEN_ADDRESS": f"127.0.0.1:{port}",
        "VECFLOW_METRICS_ADDRESS": "",
        "VECFLOW_BOOTSTRAP_API_KEY": KEY,
        "VECFLOW_LOG_LEVEL": "WARNING",
        "VECFLOW_JOB_PLUGINS": "watch:register",
        "VECFLOW_JOB_POLL_SECONDS": "0.05",
        "VECFLOW_WARM_UP": "false",  # nothing here embeds: no model in memory, no loading beside the watchers
        "PYTHONPATH": str(Path(__file__).resolve().parent),
    }
    server = subprocess.Popen([sys.executable, "-m", "vecflow", "serve"], env=env, stdout=subprocess.DEVNULL)
    try:
        job_id = asyncio.run(_submit(env, data, events, rate, start_in=4.0 + n / 50))
        watch = run_watchers(f"127.0.0.1:{port}", job_id, n, procs, tmp)
        result = collect(watch)
        seconds = asyncio.run(_job_seconds(data, job_id))
        rss = peak_rss_mib(server.pid)
    finally:
        server.terminate()
        server.wait(timeout=30)
    return summarise("vecflow", result, events, rss, seconds)


async def _submit(env: dict[str, str], data: Path, events: int, rate: float, start_in: float) -> str:
    from vecflow.jobs.engine import JobEngine
    from vecflow.jobs.eventlog import EventLog
    from vecflow.jobs.hub import WatchHub
    from vecflow.services.auth import AuthService
    from vecflow.storage.db import Database

    db = Database(f"sqlite+aiosqlite:///{data / 'vecflow.db'}")
    for _ in range(200):
        try:
            project = (await AuthService(db).authenticate(KEY)).project_id
            break
        except Exception:
            await asyncio.sleep(0.1)
    job = await JobEngine(EventLog(db, WatchHub())).submit(
        project, "bench.emit", params={"events": events, "rate": rate, "start_at": time.time() + start_in}
    )
    await db.dispose()
    return job.id


async def _job_seconds(data: Path, job_id: str) -> float:
    from vecflow.storage import models as m
    from vecflow.storage.db import Database

    db = Database(f"sqlite+aiosqlite:///{data / 'vecflow.db'}")
    async with db.read_session() as s:
        job = await s.get(m.Job, job_id)
        seconds = float((job.result or {}).get("seconds", 0.0)) if job else 0.0
    await db.dispose()
    return seconds


def scenario_bare(n: int, events: int, rate: float, procs: int, tmp: Path) -> dict[str, Any]:
    port = free_port()
    start_at = time.time() + 4.0 + n / 50
    server = subprocess.Popen(
        [
            sys.executable,
            __file__,
            "--role",
            "bare",
            "--port",
            str(port),
            "--events",
            str(events),
            "--rate",
            str(rate),
            "--start-at",
            str(start_at),
        ]
    )
    try:
        time.sleep(1.0)
        watch = run_watchers(f"127.0.0.1:{port}", "bare", n, procs, tmp)
        began = time.time()
        result = collect(watch)
        rss = peak_rss_mib(server.pid)
        seconds = (events / rate) if rate else max(1e-9, time.time() - max(began, start_at))
    finally:
        server.wait(timeout=60)
    return summarise("bare", result, events, rss, seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--role", default="main", choices=["main", "watchers", "bare"])
    parser.add_argument("--address")
    parser.add_argument("--job")
    parser.add_argument("--streams", type=int)
    parser.add_argument("--ready")
    parser.add_argument("--port", type=int)
    parser.add_argument("--events", type=int)
    parser.add_argument("--rate", type=float)
    parser.add_argument("--start-at", type=float)
    parser.add_argument("--quick", action="store_true", help="smaller scenarios for a smoke test")
    parser.add_argument("--procs", type=int, default=4, help="watcher client processes")
    parser.add_argument("--scenario", action="append", default=[], help="WATCHERS:EVENTS:RATE (repeatable)")
    parser.add_argument("--vecflow-only", action="store_true", help="skip the bare broadcast")
    args = parser.parse_args()
    if args.role == "watchers":
        asyncio.run(watchers(args.address, args.job, args.streams, args.ready))
        return
    if args.role == "bare":
        asyncio.run(bare_server(args.port, args.events, args.rate, args.start_at))
        return

    scenarios = [  # (watchers, events, rate per second; 0 = as fast as possible)
        (1, 200, 50),
        (100, 200, 50),
        (1000, 10, 1),
        (1, 1000, 0),
        (100, 300, 0),
        (1000, 100, 0),
    ]
    if args.quick:
        scenarios = [(1, 50, 50), (20, 50, 50), (20, 200, 0)]
    if args.scenario:
        scenarios = [tuple(int(float(x)) for x in spec.split(":")) for spec in args.scenario]
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        print(
            f"{'watchers':>8} {'rate':>6} {'server':>8} {'ev/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} "
            f"{'deliv/s':>9} {'RSS MiB':>8} {'complete':>8}"
        )
        for n, events, rate in scenarios:
            rows = [] if args.vecflow_only else [scenario_bare(n, events, rate, args.procs, tmp)]
            rows.append(scenario_vecflow(n, events, rate, args.procs, tmp))
            for row in rows:
                print(
                    f"{n:>8} {rate or 'max':>6} {row['server']:>8} {row['events_per_s']:>8.1f} {row['p50_ms']:>8.2f} "
                    f"{row['p99_ms']:>8.2f} {row['max_ms']:>8.2f} {row['deliveries_per_s']:>9.0f} "
                    f"{row['rss_mib']:>8.1f} {row['complete']!s:>8}"
                )
            if len(rows) < 2:
                continue
            bare, vf = rows
            print(
                f"{'':>8} {'':>6} {'ratio':>8} {'':>8} {'':>8} {vf['p99_ms'] / bare['p99_ms']:>8.2f} {'':>8} "
                f"{vf['deliveries_per_s'] / bare['deliveries_per_s']:>9.2f}   (vecflow / bare)",
                flush=True,
            )


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT / "server"))
    main()
