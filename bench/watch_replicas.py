"""WatchJob across replicas: delivery latency to watchers on the replica running the job and on another one.

    .venv/bin/python bench/watch_replicas.py                      # 1 and 100 watchers per replica
    .venv/bin/python bench/watch_replicas.py --quick              # smaller, for a smoke test
    .venv/bin/python bench/watch_replicas.py --database-url postgresql+asyncpg://postgres@127.0.0.1:5432/test

Two `vecflow serve` processes share one fresh PostgreSQL database: A runs the job (bench/watch.py's emitting
job), B runs none. In each scenario N watchers stream WatchJob from A (same replica: in-memory hub) and N
from B (other replica: NOTIFY, then one read per event on B) at once, each side in its own client processes
(bench/watch.py's watchers). Printed: delivery latency from the event's append to client receipt
(p50 / p99 / max) per side, and whether every watcher got every event.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT / "server"))

from watch import KEY, collect, free_port, run_watchers, summarise  # noqa: E402


def serve(url: str, data: Path, runs_jobs: bool) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {
        **os.environ,
        "VECFLOW_DATABASE_URL": url,
        "VECFLOW_DATA_DIR": str(data),
        "VECFLOW_LISTEN_ADDRESS": f"127.0.0.1:{port}",
        "VECFLOW_METRICS_ADDRESS": "",
        "VECFLOW_BOOTSTRAP_API_KEY": KEY,
        "VECFLOW_LOG_LEVEL": "WARNING",
        "VECFLOW_JOB_POLL_SECONDS": "0.05",
        "VECFLOW_WARM_UP": "false",
        "PYTHONPATH": str(HERE),
    }
    if runs_jobs:  # B has no handler for the bench job, so only A ever claims it
        env["VECFLOW_JOB_PLUGINS"] = "watch:register"
    proc = subprocess.Popen([sys.executable, "-m", "vecflow", "serve"], env=env, stdout=subprocess.DEVNULL)
    asyncio.run(_wait_ready(f"127.0.0.1:{port}", proc))
    return proc, f"127.0.0.1:{port}"


async def _wait_ready(address: str, proc: subprocess.Popen[bytes]) -> None:
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    async with grpc.aio.insecure_channel(address) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        for _ in range(600):
            if proc.poll() is not None:
                raise RuntimeError(f"the server on {address} exited with {proc.returncode}")
            try:
                reply = await stub.Check(health_pb2.HealthCheckRequest(), timeout=1)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.aio.AioRpcError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError(f"the server on {address} did not start")


async def _submit(url: str, events: int, rate: float, start_in: float) -> str:
    from vecflow.jobs.engine import JobEngine
    from vecflow.jobs.eventlog import EventLog
    from vecflow.jobs.hub import WatchHub
    from vecflow.services.auth import AuthService
    from vecflow.storage.db import Database

    db = Database(url)
    try:
        project = (await AuthService(db).authenticate(KEY)).project_id
        job = await JobEngine(EventLog(db, WatchHub())).submit(
            project, "bench.emit", params={"events": events, "rate": rate, "start_at": time.time() + start_in}
        )
    finally:
        await db.dispose()
    return job.id


def scenario(a: str, b: str, url: str, n: int, events: int, rate: float, procs: int, tmp: Path) -> list[dict[str, Any]]:
    job_id = asyncio.run(_submit(url, events, rate, start_in=3.0 + n / 25))
    same = run_watchers(a, job_id, n, procs, tmp)
    other = run_watchers(b, job_id, n, procs, tmp)
    seconds = events / rate if rate else float("nan")
    return [
        {**summarise("same", collect(same), events, 0.0, seconds)},
        {**summarise("other", collect(other), events, 0.0, seconds)},
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--database-url",
        default=os.environ.get("VECFLOW_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"),
        help="a PostgreSQL server to create the benchmark's database on (dropped afterwards)",
    )
    parser.add_argument("--quick", action="store_true", help="smaller scenarios for a smoke test")
    parser.add_argument("--procs", type=int, default=2, help="watcher client processes per replica")
    parser.add_argument("--scenario", action="append", default=[], help="WATCHERS:EVENTS:RATE (repeatable)")
    args = parser.parse_args()
    scenarios = [(1, 200, 50), (100, 200, 50)]  # (watchers per replica, events, events per second)
    if args.quick:
        scenarios = [(1, 50, 50), (20, 50, 50)]
    if args.scenario:
        scenarios = [tuple(int(float(x)) for x in spec.split(":")) for spec in args.scenario]

    sys.path.insert(0, str(ROOT / "tests"))
    from helpers.databases import create_pg_database, drop_pg_database

    url, name = asyncio.run(create_pg_database(args.database_url))
    servers: list[subprocess.Popen[bytes]] = []
    try:
        with tempfile.TemporaryDirectory() as tmp_name:
            tmp = Path(tmp_name)
            proc_a, a = serve(url, tmp / "a", runs_jobs=True)
            servers.append(proc_a)
            proc_b, b = serve(url, tmp / "b", runs_jobs=False)
            servers.append(proc_b)
            print(
                f"{'watchers':>8} {'rate':>6} {'replica':>8} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'complete':>8}"
            )
            for n, events, rate in scenarios:
                for row in scenario(a, b, url, n, events, rate, args.procs, tmp):
                    print(
                        f"{n:>8} {rate:>6} {row['server']:>8} {row['p50_ms']:>8.2f} {row['p99_ms']:>8.2f} "
                        f"{row['max_ms']:>8.2f} {row['complete']!s:>8}",
                        flush=True,
                    )
    finally:
        for proc in servers:
            proc.terminate()
            proc.wait(timeout=30)
        asyncio.run(drop_pg_database(args.database_url, name))


if __name__ == "__main__":
    main()
