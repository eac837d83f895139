"""Hostile documents against a running server with its default limits: what each answers, the server's peak
memory while it parses (the server process and its parse workers together), the memory left afterwards,
and how fast the API answers meanwhile.

    .venv/bin/python bench/hostile.py            # the sizes of the hostile-input issue (a few minutes)
    .venv/bin/python bench/hostile.py --quick    # smaller files, for a smoke test

Per case: outcome (parse code), seconds, peak RSS above idle, RSS after (above idle), and GetKnowledgeBase
latency p50 / p99 / max from one caller that calls without pause while the parse runs. The first line is the
same latency with nothing parsing: the baseline. Goals (issue 11): peak ≤ 1 GiB above idle, p99 ≤ 100 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from common import KEY, ROOT, SERVERS, vecflow_server

sys.path.insert(0, str(ROOT / "tests"))
from helpers import hostile_files as hf

MIB = 1024 * 1024
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def tree_rss(pid: int) -> int:
    """Resident memory of a process and all its descendants (bytes)."""
    page = os.sysconf("SC_PAGE_SIZE")
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        try:
            total += int(Path(f"/proc/{current}/statm").read_text().split()[1]) * page
            todo += [
                int(c)
                for task in Path(f"/proc/{current}/task").iterdir()
                for c in (task / "children").read_text().split()
            ]
        except (OSError, ValueError):
            continue
    return total


class PeakSampler:
    """Samples a process tree's RSS every 10 ms in a thread; `peak` since the last `reset`."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak, self._stop = pid, 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.01):
            self.peak = max(self.peak, tree_rss(self.pid))

    def reset(self) -> None:
        self.peak = tree_rss(self.pid)

    def close(self) -> None:
        self._stop.set()
        self._thread.join()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


async def run(address: str, quick: bool) -> None:
    from vecflow_client import VecflowClient
    from vecflow_client.v1 import job_pb2
    from vecflow_client.v1 import knowledge_base_service_pb2 as kb_pb2

    scale = 0.05 if quick else 1.0
    cases: list[tuple[str, str, Callable[[], bytes]]] = [
        ("DOCX bomb: document.xml unpacks to 1.0e9 bytes", DOCX, lambda: hf.docx_with_body_bytes(int(1e9 * scale))),
        ("DOCX, document.xml 250 MB (under that limit)", DOCX, lambda: hf.docx_with_body_bytes(int(250e6 * scale))),
        ("DOCX whose zip member lies about its size", DOCX, lambda: hf.docx_lying_member(int(1e9 * scale))),
        ("single-line text file, 100 MiB", "text/plain", lambda: hf.one_line_text(int(100 * MIB * scale))),
        ("PDF, page /Contents nested 100,000 deep", "application/pdf", hf.pdf_deep_contents),
        ("PDF, font dictionary nested 100,000 deep", "application/pdf", hf.pdf_deep_font),
        ("valid PDF of 100,000 pages", "application/pdf", lambda: hf.pdf_pages(int(100_000 * scale))),
    ]
    sampler = PeakSampler(SERVERS[address].pid)
    async with VecflowClient(address, KEY) as client:
        kbs = client.knowledge_bases
        kb = (await kbs.CreateKnowledgeBase(kb_pb2.CreateKnowledgeBaseRequest(name="hostile"))).knowledge_base

        async def upload(name: str, content: bytes, content_type: str) -> str:
            async def messages() -> AsyncIterator[kb_pb2.UploadFileRequest]:
                meta = kb_pb2.UploadFileMetadata(kb_id=kb.id, name=name, content_type=content_type, parse=True)
                yield kb_pb2.UploadFileRequest(metadata=meta)
                for start in range(0, len(content), MIB):
                    yield kb_pb2.UploadFileRequest(chunk=content[start : start + MIB])

            return str((await kbs.UploadFile(messages())).parse_job.id)

        async def latencies_until(done: Callable[[], bool]) -> list[float]:
            got: list[float] = []
            while not done():
                started = time.perf_counter()
                await kbs.GetKnowledgeBase(kb_pb2.GetKnowledgeBaseRequest(kb_id=kb.id))
                got.append((time.perf_counter() - started) * 1000)
            return got

        warm = await upload("warm.txt", b"loads the model and starts a parse worker\n", "text/plain")
        await client.wait_job(warm)
        await asyncio.sleep(1)
        idle = tree_rss(SERVERS[address].pid)
        end = time.monotonic() + 5
        base = await latencies_until(lambda: time.monotonic() > end)
        print(f"server idle RSS {idle / MIB:.0f} MiB (server + parse workers)")
        print(
            f"{'case':44} {'outcome':22} {'s':>6} {'peak+':>7} {'after+':>7} "
            f"{'p50 ms':>7} {'p99 ms':>7} {'max ms':>7} {'calls':>6}"
        )
        row = "{:44} {:22} {:>6} {:>7} {:>7} {:>7.1f} {:>7.1f} {:>7.1f} {:>6}"
        print(
            row.format(
                "(nothing parsing)",
                "",
                "",
                "",
                "",
                percentile(base, 0.5),
                percentile(base, 0.99),
                max(base),
                len(base),
            )
        )
        for index, (label, content_type, make) in enumerate(cases):
            content = make()
            before = tree_rss(SERVERS[address].pid)
            sampler.reset()
            started = time.monotonic()
            job_id = await upload(f"case-{index}", content, content_type)
            waiter = asyncio.create_task(client.wait_job(job_id))
            calls = await latencies_until(waiter.done)
            job = await waiter
            seconds = time.monotonic() - started
            outcome = "parsed" if job.status == job_pb2.JOB_STATUS_SUCCEEDED else job.error.code
            await asyncio.sleep(2)  # let a retired worker go
            after = tree_rss(SERVERS[address].pid)
            print(
                row.format(
                    label,
                    outcome,
                    f"{seconds:.1f}",
                    f"{(sampler.peak - before) / MIB:.0f}M",
                    f"{(after - idle) / MIB:.0f}M",
                    percentile(calls, 0.5),
                    percentile(calls, 0.99),
                    max(calls) if calls else float("nan"),
                    len(calls),
                )
            )
            del content
    sampler.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smaller files (a smoke test)")
    quick = parser.parse_args().quick
    with tempfile.TemporaryDirectory() as tmp, vecflow_server(Path(tmp) / "data") as address:
        asyncio.run(run(address, quick))


if __name__ == "__main__":
    main()
