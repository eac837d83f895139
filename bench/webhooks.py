"""Webhook delivery: what the outbox costs a job's end, and how soon and how fast events reach a receiver.

    .venv/bin/python bench/webhooks.py            # 400 jobs per run
    .venv/bin/python bench/webhooks.py --quick    # 100

One `vecflow serve` (SQLite, VECFLOW_LOG_LEVEL=WARNING) runs a job that does nothing (`bench.noop`, loaded as a
plugin); this process submits N of them through the engine on the same database, as another replica would, and
runs a threaded HTTP receiver on loopback (a child process) that answers 200 at once. Runs, each on a fresh server:

* `no webhook`: the baseline; jobs/s from the first submit to the last job's end, and the server's CPU time per
  job (the receiver runs in a child process, so its work is not counted).
* `1 webhook, poll 1 s` (the default) and `poll 0.1 s`: the same jobs with a webhook subscribed to
  job.succeeded; jobs/s (the outbox insert rides on each job's terminal transaction, and deliveries compete with
  the jobs for the CPU and SQLite's one writer), server CPU per job and its delivery, deliveries/s until the
  last event arrived, and latency from the event's timestamp (taken in its transaction) to its receipt.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from common import KEY, SERVERS, free_port, tree_cpu_seconds, vecflow_server  # noqa: E402


async def noop_job(ctx: Any) -> dict[str, Any]:
    return {}


def register(engine: Any) -> None:
    engine.register("bench.noop", noop_job)


def receive(port: int, expected: int, out: Any) -> None:
    """A child process: answer every POST with 200 at once, and once `expected` events came, send back each
    one's latency (receipt minus the event's timestamp) and the time the last one arrived."""
    latencies: list[float] = []
    done = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["content-length"]))
            now = time.time()
            stamp = datetime.fromisoformat(json.loads(body)["timestamp"].replace("Z", "+00:00")).timestamp()
            self.send_response(200)
            self.send_header("content-length", "0")
            self.end_headers()
            latencies.append(now - stamp)
            if len(latencies) == expected:
                out.put((latencies, now))
                done.set()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    done.wait()


async def run(address: str, data: Path, jobs: int, receiver: int | None) -> dict[str, float]:
    import grpc
    from vecflow.jobs.engine import JobEngine
    from vecflow.jobs.eventlog import EventLog
    from vecflow.jobs.hub import WatchHub
    from vecflow.services.auth import AuthService
    from vecflow.storage.db import Database
    from vecflow_client.v1 import webhook_service_pb2 as pb
    from vecflow_client.v1 import webhook_service_pb2_grpc as rpc

    if receiver is not None:
        async with grpc.aio.insecure_channel(address) as channel:
            await rpc.WebhookServiceStub(channel).CreateWebhook(
                pb.CreateWebhookRequest(url=f"http://127.0.0.1:{receiver}/hook", events=["job.succeeded"]),
                metadata=(("x-api-key", KEY),),
            )
    db = Database(f"sqlite+aiosqlite:///{data / 'vecflow.db'}")
    try:
        project = (await AuthService(db).authenticate(KEY)).project_id
        submitter = JobEngine(EventLog(db, WatchHub()))
        start = time.time()
        for _ in range(jobs):
            await submitter.submit(project, "bench.noop")
        with sqlite3.connect(data / "vecflow.db") as conn:
            while True:
                (done,) = conn.execute("SELECT count(*) FROM jobs WHERE status = 'succeeded'").fetchone()
                if done == jobs:
                    break
                await asyncio.sleep(0.02)
            (ended,) = conn.execute("SELECT max(completed_at) FROM jobs").fetchone()
        jobs_end = datetime.fromisoformat(ended).replace(tzinfo=UTC).timestamp()  # stored naive, in UTC
        return {"jobs/s": jobs / (jobs_end - start), "start": start}
    finally:
        await db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="100 jobs per run instead of 400")
    args = parser.parse_args()
    jobs = 100 if args.quick else 400
    rows = []
    runs = (("no webhook", False, 1.0), ("1 webhook, poll 1 s", True, 1.0), ("1 webhook, poll 0.1 s", True, 0.1))
    for name, hooked, poll in runs:
        port = free_port()
        results: Any = multiprocessing.Queue()
        child = multiprocessing.Process(target=receive, args=(port, jobs, results), daemon=True)
        if hooked:
            child.start()
        with tempfile.TemporaryDirectory() as tmp:
            data = Path(tmp) / "data"
            data.mkdir()
            env = {
                "VECFLOW_JOB_PLUGINS": "webhooks:register",
                "PYTHONPATH": str(HERE),
                "VECFLOW_WARM_UP": "false",
                "VECFLOW_JOB_POLL_SECONDS": "0.05",
                "VECFLOW_FETCH_ALLOW_HOSTS": "127.0.0.1",
                "VECFLOW_WEBHOOK_POLL_SECONDS": str(poll),
            }
            with vecflow_server(data, **env) as address:
                idle = tree_cpu_seconds(SERVERS[address].pid, descendants=False)
                figures = asyncio.run(run(address, data, jobs, port if hooked else None))
                if hooked:
                    latencies, last = results.get(timeout=300)
                    lat = sorted(latencies)
                    figures.update(
                        {
                            "deliveries/s": jobs / (last - figures["start"]),
                            "p50 ms": statistics.median(lat) * 1000,
                            "p99 ms": lat[int(0.99 * (len(lat) - 1))] * 1000,
                            "max ms": lat[-1] * 1000,
                        }
                    )
                    time.sleep(0.5)  # the last attempts' outcomes are recorded
                figures["cpu ms/job"] = (tree_cpu_seconds(SERVERS[address].pid, descendants=False) - idle) / jobs * 1000
        if hooked:
            child.join(timeout=10)
        del figures["start"]
        rows.append((name, figures))
        print(name, {k: round(v, 1) for k, v in figures.items()}, flush=True)
    print(f"\n{jobs} jobs per run")
    print("| run | jobs/s | server CPU ms/job | deliveries/s | p50 / p99 / max ms |")
    print("|---|---:|---:|---:|---|")
    for name, f in rows:
        lat = f"{f['p50 ms']:.0f} / {f['p99 ms']:.0f} / {f['max ms']:.0f}" if "p50 ms" in f else "—"
        deliveries = f"{f['deliveries/s']:.0f}" if "deliveries/s" in f else "—"
        print(f"| {name} | {f['jobs/s']:.0f} | {f['cpu ms/job']:.1f} | {deliveries} | {lat} |")


if __name__ == "__main__":
    main()
