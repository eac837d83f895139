"""What tracing costs a call: GetJob through a real server with tracing off, on, and (optionally) before tracing.

    .venv/bin/python bench/tracing.py                       # off vs on
    .venv/bin/python bench/tracing.py --baseline HEAD~1     # and the server of another commit (`git archive`)
    .venv/bin/python bench/tracing.py --quick

One `vecflow serve` per variant, all running at once on their own SQLite files (VECFLOW_LOG_LEVEL=WARNING, so the
per-call log line is not written): `off` (no OTLP endpoint: the default), `on` (OTEL_EXPORTER_OTLP_ENDPOINT at a
collector in a child process that counts the spans it receives; batch export), and `baseline`, the server code of
`--baseline REV` put first on PYTHONPATH. Rounds alternate between the servers (in a new order each round), so drift
on a busy machine hits each alike. Per variant: sequential GetJob latency (p50 / p99 / mean over every round), the
server's own CPU time per call in those rounds, and the calls/s of CONCURRENCY callers at once.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from common import KEY, ROOT, SERVERS, free_port, tree_cpu_seconds, vecflow_server  # noqa: E402

COLLECTOR = """
import sys, threading, time
from concurrent import futures
import grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

class Sink(trace_service_pb2_grpc.TraceServiceServicer):
    spans = 0
    def Export(self, request, context):
        Sink.spans += sum(len(s.spans) for r in request.resource_spans for s in r.scope_spans)
        return trace_service_pb2.ExportTraceServiceResponse()

server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
trace_service_pb2_grpc.add_TraceServiceServicer_to_server(Sink(), server)
server.add_insecure_port("127.0.0.1:" + sys.argv[1])
server.start()
for line in sys.stdin:
    print(Sink.spans, flush=True)
"""


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def a_job(address: str) -> str:
    """A job to read: the parse job of a small upload (whether it succeeds does not matter)."""
    import grpc
    from vecflow_client.v1 import knowledge_base_service_pb2 as kb_pb2
    from vecflow_client.v1 import knowledge_base_service_pb2_grpc as kb_grpc

    async with grpc.aio.insecure_channel(address) as channel:
        stub = kb_grpc.KnowledgeBaseServiceStub(channel)
        md = (("x-api-key", KEY),)
        kb = (
            await stub.CreateKnowledgeBase(kb_pb2.CreateKnowledgeBaseRequest(name="bench"), metadata=md)
        ).knowledge_base

        async def messages() -> Any:
            yield kb_pb2.UploadFileRequest(metadata=kb_pb2.UploadFileMetadata(kb_id=kb.id, name="a.txt"))
            yield kb_pb2.UploadFileRequest(chunk=b"a few words to parse")

        return str((await stub.UploadFile(messages(), metadata=md)).parse_job.id)


class Target:
    def __init__(self, name: str, address: str, job_id: str) -> None:
        import grpc
        from vecflow_client.v1 import job_service_pb2 as job_pb
        from vecflow_client.v1 import job_service_pb2_grpc as job_grpc

        self.name, self.address = name, address
        self.pid = SERVERS[address].pid
        self.channel = grpc.aio.insecure_channel(address)
        self.stub = job_grpc.JobServiceStub(self.channel)
        self.request = job_pb.GetJobRequest(job_id=job_id)
        self.latencies: list[float] = []
        self.cpu = 0.0
        self.calls = 0
        self.rates: list[float] = []

    async def call(self) -> None:
        await self.stub.GetJob(self.request, metadata=(("x-api-key", KEY),), timeout=10)

    async def sequential(self, calls: int) -> None:
        cpu = tree_cpu_seconds(self.pid, descendants=False)
        for _ in range(calls):
            start = time.perf_counter()
            await self.call()
            self.latencies.append(time.perf_counter() - start)
        self.cpu += tree_cpu_seconds(self.pid, descendants=False) - cpu
        self.calls += calls

    async def concurrent(self, calls: int, concurrency: int) -> None:
        async def caller() -> None:
            for _ in range(calls // concurrency):
                await self.call()

        start = time.perf_counter()
        await asyncio.gather(*(caller() for _ in range(concurrency)))
        self.rates.append(calls // concurrency * concurrency / (time.perf_counter() - start))


async def measure(targets: list[Target], rounds: int, calls: int, concurrency: int) -> None:
    for target in targets:  # warm up: connections, caches, the first-call paths
        for _ in range(200):
            await target.call()
    for _ in range(rounds):
        order = random.sample(targets, len(targets))
        for target in order:
            await target.sequential(calls)
        for target in order:
            await target.concurrent(calls, concurrency)


def report(targets: list[Target]) -> None:
    print(f"{'variant':<10} {'p50 µs':>8} {'p99 µs':>8} {'mean µs':>8} {'server CPU µs/call':>19} {'calls/s':>8}")
    for t in targets:
        micro = [v * 1e6 for v in t.latencies]
        print(
            f"{t.name:<10} {percentile(micro, 0.5):8.0f} {percentile(micro, 0.99):8.0f} {statistics.fmean(micro):8.0f} "
            f"{t.cpu / t.calls * 1e6:19.0f} {statistics.median(t.rates):8.0f}"
        )
    by = {t.name: t for t in targets}
    for name in ("off", "on"):
        if "baseline" in by and name in by:
            base, other = by["baseline"], by[name]
            p50 = percentile(other.latencies, 0.5) / percentile(base.latencies, 0.5)
            cpu = (other.cpu / other.calls) / (base.cpu / base.calls)
            rate = statistics.median(other.rates) / statistics.median(base.rates)
            print(f"{name} / baseline: p50 ×{p50:.3f}, server CPU per call ×{cpu:.3f}, calls/s ×{rate:.3f}")
    if "off" in by and "on" in by:
        off, on = by["off"], by["on"]
        extra = (on.cpu / on.calls - off.cpu / off.calls) * 1e6
        print(f"on − off: {extra:.0f} µs of server CPU per call (the span, its attributes and its export)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline", help="a git revision whose server/ to measure as well (git archive)")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--calls", type=int, default=1000, help="calls per round and variant, each way")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--quick", action="store_true", help="2 rounds of 300 calls")
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.calls = 2, 300
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        work = Path(tmp)
        port = free_port()
        collector = subprocess.Popen(
            [sys.executable, "-c", COLLECTOR, str(port)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        stack.callback(collector.kill)
        base = {"VECFLOW_WARM_UP": "false", "OTEL_EXPORTER_OTLP_ENDPOINT": "", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": ""}
        variants: dict[str, dict[str, str]] = {
            "off": base,
            "on": {**base, "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{port}"},
        }
        if args.baseline:
            tree = work / "baseline-code"
            tree.mkdir()
            archive = subprocess.run(
                ["git", "archive", args.baseline, "server"], cwd=ROOT, check=True, capture_output=True
            ).stdout
            subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
            variants["baseline"] = {**base, "PYTHONPATH": str(tree / "server")}
        addresses = {}
        for name, env in variants.items():
            (work / name).mkdir()
            addresses[name] = stack.enter_context(vecflow_server(work / name / "data", **env))

        async def run() -> list[Target]:
            targets = [Target(name, address, await a_job(address)) for name, address in addresses.items()]
            await measure(targets, args.rounds, args.calls, args.concurrency)
            for target in targets:
                await target.channel.close()
            return targets

        targets = asyncio.run(run())
        print(
            f"{args.rounds} rounds × {args.calls} sequential + {args.calls} concurrent ({args.concurrency} callers) "
            f"GetJob calls per variant; {os.cpu_count()} cores"
        )
        report(targets)
        time.sleep(6)  # the batch processor exports every 5 s
        assert collector.stdin is not None and collector.stdout is not None
        collector.stdin.write("count\n")
        collector.stdin.flush()
        print(f"spans the collector received from `on`: {collector.stdout.readline().strip()}")


if __name__ == "__main__":
    main()
