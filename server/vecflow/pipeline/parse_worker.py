"""Parsing in worker processes: a runaway document costs one worker, never the server's memory or event loop.

`ParsePool` keeps up to `workers` processes (`python -m vecflow.pipeline.parse_worker`, started on demand and
kept while idle). Each parse runs in one of them, which parses the file, counts its tokens, writes
the parse result's JSON next to where it will be kept and answers with a small summary. The parent watches the
worker while it works:

- memory: the worker's RSS above what it held idle is read every `WATCH_SECONDS`; past `memory_bytes` the
  worker is killed and the parse fails with ``PARSE_MEMORY_EXCEEDED``. An address-space limit (RLIMIT_AS) set
  in the worker is the backstop for an allocation faster than the watch: it ends in a MemoryError, reported
  the same way.
- time: past `timeout_seconds` the worker is killed (``PARSE_TIMEOUT``).
- cancellation: when the caller's event is set the worker is killed and `ParseCancelled` raised.
- a worker that dies on its own (a crash in a C library) fails the parse with ``PARSER_CRASHED``.

OCR (images, PDF pages without a text layer) reports each page it read as a progress message before the reply,
which `ParsePool.parse` hands to its `on_progress` callback. The OCR engine is loaded on a worker's first OCR'd
page and kept: its size joins the worker's idle size (the memory budget and the retirement below count from
there), and freed memory is handed back to the OS (malloc_trim) after each page and parse.

A worker that grew by more than `RETIRE_ABOVE_BYTES` while parsing, or has served `RETIRE_AFTER_JOBS` parses,
exits after answering, so memory returns to idle. Workers exit when the server process goes away, even on
kill -9 (they watch their parent).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from vecflow.pipeline.parse import CORRUPT_FILE, OcrOptions, ParseError, ParseLimits

log = logging.getLogger(__name__)

PARSE_MEMORY_EXCEEDED = "PARSE_MEMORY_EXCEEDED"
PARSE_TIMEOUT = "PARSE_TIMEOUT"
PARSER_CRASHED = "PARSER_CRASHED"

WATCH_SECONDS = 0.02  # how often a working worker's RSS is read
RETIRE_ABOVE_BYTES = 128 * 1024 * 1024
RETIRE_AFTER_JOBS = 500
START_TIMEOUT_SECONDS = 120.0
_REPLY_LIMIT = 16 * 1024 * 1024  # bytes of one reply line
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


class ParseCancelled(Exception):
    """The caller cancelled the parse; its worker was stopped."""


@dataclass(frozen=True)
class ParseSummary:
    """What a worker reports of a parse; the document itself is in the JSON file it wrote."""

    content_type: str
    parser: str
    pages: int
    characters: int
    tables: int
    tokens: int
    tokenize_ms: float
    text_preview: str
    bytes: int
    peak_rss_bytes: int  # the worker's largest growth above idle seen while it parsed (sampled)
    ocr_pages: int = 0  # pages whose text came from OCR
    ocr_confidence: float | None = None  # their mean OCR confidence (0–1)


def rss_bytes(pid: int) -> int:
    """Resident memory of process `pid` (0 where /proc is not available)."""
    try:
        with open(f"/proc/{pid}/statm", "rb") as fp:
            return int(fp.read().split()[1]) * _PAGE
    except (OSError, ValueError, IndexError):
        return 0


# --------------------------------------------------------------------------- the worker process
# Run as `python -m vecflow.pipeline.parse_worker`. Protocol, one JSON object per line: the parent writes a
# setup line, then requests; the worker answers "ready", then one reply per request.


def _watch_parent(parent: int) -> None:
    while True:
        time.sleep(1.0)
        if os.getppid() != parent:
            os._exit(0)


def _preload() -> None:
    import hashlib

    for name in ("md5", "sha1", "sha256"):  # OpenSSL sets each digest up on first use
        hashlib.new(name, b"")
    modules = ("pypdf", "pdfminer.high_level", "pdfplumber", "docx", "lxml.etree", "bs4", "charset_normalizer", "csv")
    for module in modules:
        try:
            __import__(module)
        except ImportError:
            pass


def _limit_address_space(memory_bytes: int) -> None:
    try:
        import resource

        with open("/proc/self/statm", "rb") as fp:
            virtual = int(fp.read().split()[0]) * _PAGE
        limit = virtual + memory_bytes + memory_bytes // 4  # the RSS watch enforces the budget; this is for spikes
        hard = resource.getrlimit(resource.RLIMIT_AS)[1]
        if hard != resource.RLIM_INFINITY:
            limit = min(limit, hard)
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))  # the soft limit: `_lift_address_space` undoes it
    except (ImportError, OSError, ValueError):
        pass  # no /proc or no RLIMIT_AS: the parent's RSS watch still applies


def _lift_address_space() -> None:
    try:
        import resource

        hard = resource.getrlimit(resource.RLIMIT_AS)[1]
        resource.setrlimit(resource.RLIMIT_AS, (hard, hard))
    except (ImportError, OSError, ValueError):
        pass


def _main() -> None:
    """The worker's main loop: one request at a time until its input closes, it retires, or its parent goes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the server, which stops its workers
    logging.disable(logging.WARNING)  # parsers warn about every oddity of a damaged file; the reply says enough
    replies = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # anything a library prints goes to stderr, never into the replies
    requests = sys.stdin.buffer
    setup = json.loads(requests.readline())
    threading.Thread(target=_watch_parent, args=(int(setup["parent"]),), daemon=True, name="parent-watch").start()
    from tokenizers import Tokenizer

    from vecflow.pipeline.chunk import count_tokens

    tokenizer = Tokenizer.from_str(setup["tokenizer"])
    limits = ParseLimits(**setup["limits"])
    memory_bytes = int(setup["memory_bytes"])
    count_tokens("warm up the tokenizer's threads before measuring idle memory", tokenizer)
    _preload()  # what parsers import lazily, imported before the address-space limit applies
    _limit_address_space(memory_bytes)
    idle = rss_bytes(os.getpid())

    def send(message: dict[str, Any]) -> None:
        replies.write(json.dumps(message).encode() + b"\n")
        replies.flush()

    send({"status": "ready", "idle_rss": idle})

    def load_engine(load: Callable[[], None]) -> None:
        """The OCR engine stays loaded: from now on it is part of this worker's idle size and address space."""
        nonlocal idle
        _lift_address_space()  # onnxruntime maps much more address space than it touches
        try:
            load()
        finally:
            _trim()
            _limit_address_space(memory_bytes)
            idle = rss_bytes(os.getpid())
            send({"status": "baseline", "idle_rss": idle})

    def page_read(page: int, done: int, total: int, confidence: float | None) -> None:
        _trim()
        send({"status": "progress", "page": page, "done": done, "total": total, "confidence": confidence})

    for served in range(1, RETIRE_AFTER_JOBS + 1):
        line = requests.readline()
        if not line:
            return
        request = json.loads(line)
        request["memory_bytes"] = memory_bytes
        ocr = OcrOptions(request.get("ocr") or "auto", progress=page_read, load_with=load_engine)
        status, value = _parse_one(request, tokenizer, limits, ocr)
        _trim()
        grown = rss_bytes(os.getpid()) - idle
        ran_out = status == "failed" and value[0] == PARSE_MEMORY_EXCEEDED  # hit RLIMIT_AS: start afresh
        retire = ran_out or grown > RETIRE_ABOVE_BYTES or served == RETIRE_AFTER_JOBS
        send({"status": status, "value": value, "retire": retire})
        if retire:
            return


def _trim() -> None:
    """Hand freed heap memory back to the OS (glibc keeps it otherwise: OCR frees hundreds of MiB a page)."""
    global _malloc_trim
    if _malloc_trim is None:
        try:
            import ctypes

            _malloc_trim = ctypes.CDLL("libc.so.6").malloc_trim
        except (OSError, AttributeError):
            _malloc_trim = False
    if _malloc_trim:
        _malloc_trim(0)


_malloc_trim: Any = None


def _parse_one(request: dict[str, Any], tokenizer: Any, limits: ParseLimits, ocr: OcrOptions) -> tuple[str, Any]:
    from vecflow.pipeline.chunk import count_tokens
    from vecflow.pipeline.parse import parse_document

    try:
        document = parse_document(
            Path(request["path"]), request["content_type"], detect_language=False, limits=limits, ocr=ocr
        )
        # Lone surrogates (seen in some PDFs' text) break tokenizers and JSON; "?" keeps every offset.
        document.text = document.text.encode("utf-8", "replace").decode("utf-8")
        started = time.perf_counter()
        tokens = count_tokens(document.text, tokenizer)
        tokenize_ms = round((time.perf_counter() - started) * 1000, 1)
        raw = json.dumps(asdict(document), ensure_ascii=False).encode()
        confidences = [p.ocr_confidence for p in document.pages if p.ocr_confidence is not None]
        Path(request["out"]).write_bytes(raw)
        summary = ParseSummary(
            content_type=document.content_type,
            parser=document.parser,
            pages=len(document.pages),
            characters=len(document.text),
            tables=len(document.tables),
            tokens=tokens,
            tokenize_ms=tokenize_ms,
            text_preview=document.text[: int(request["preview"])],
            bytes=len(raw),
            peak_rss_bytes=0,
            ocr_pages=len(confidences),
            ocr_confidence=round(sum(confidences) / len(confidences), 4) if confidences else None,
        )
        return "ok", asdict(summary)
    except ParseError as err:
        return "failed", (err.code, err.message)
    except MemoryError:
        return "failed", (PARSE_MEMORY_EXCEEDED, _memory_message(request["memory_bytes"]))
    except RecursionError:
        return "failed", (CORRUPT_FILE, "The file's structure is nested too deeply to read; it is damaged or crafted.")
    except Exception as err:  # a parser bug: the server reports it as an internal error
        return "crashed", f"{type(err).__name__}: {err}"


def _memory_message(memory_bytes: int) -> str:
    return (
        f"Parsing this file needed more than {memory_bytes / 2**20:,.0f} MiB of memory, the limit for one parse, "
        "so it was stopped. Split the document into smaller files, or ask the operator to raise "
        "VECFLOW_PARSE_MEMORY_BYTES."
    )


# --------------------------------------------------------------------------- the parent's side


class _Worker:
    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.idle_rss = 0

    async def send(self, message: dict[str, Any]) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(message).encode() + b"\n")
        await self.process.stdin.drain()

    async def receive(self, deadline: float, cancelled: asyncio.Event | None, memory_bytes: int) -> tuple[Any, int]:
        """The worker's next message, watching its memory, the deadline and the cancel event meanwhile.
        Returns (message, the largest growth above idle the watch saw)."""
        assert self.process.stdout is not None
        reading = asyncio.ensure_future(self.process.stdout.readline())
        waiters: set[asyncio.Future[Any]] = {reading}
        if cancelled is not None:
            waiters.add(asyncio.ensure_future(cancelled.wait()))
        peak = 0
        try:
            while True:
                if reading.done():
                    line = reading.result()
                    if not line:
                        code = await self.process.wait()
                        raise ParseError(
                            PARSER_CRASHED,
                            f"The parser process exited unexpectedly (exit code {code}) while reading this file. "
                            "The file is probably damaged; re-save it and upload it again.",
                        )
                    return json.loads(line), peak
                if cancelled is not None and cancelled.is_set():
                    raise ParseCancelled()
                grown = rss_bytes(self.process.pid) - self.idle_rss
                peak = max(peak, grown)
                if grown > memory_bytes:
                    raise ParseError(PARSE_MEMORY_EXCEEDED, _memory_message(memory_bytes))
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError
                await asyncio.wait(waiters, timeout=min(WATCH_SECONDS, remaining), return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()

    async def stop(self) -> None:
        if self.process.returncode is None:
            try:
                self.process.kill()
            except ProcessLookupError:
                pass
        await self.process.wait()


class ParsePool:
    """Worker processes that parse documents under a memory and time budget (see the module docstring)."""

    def __init__(
        self,
        *,
        workers: int,
        memory_bytes: int,
        timeout_seconds: float,
        limits: ParseLimits,
        tokenizer_json: Any,
    ) -> None:
        """`tokenizer_json`: a blocking callable returning the tokenizer (tokenizers JSON) to count tokens with;
        called once, in a thread, when the first worker starts."""
        self.workers = workers
        self.memory_bytes = memory_bytes
        self.timeout_seconds = timeout_seconds
        self.limits = limits
        self._tokenizer_source = tokenizer_json
        self._tokenizer: str | None = None
        self._slots = asyncio.Semaphore(workers)
        self._idle: list[_Worker] = []
        self._busy: set[_Worker] = set()
        self._closed = False

    async def parse(
        self,
        path: Path,
        content_type: str,
        out: Path,
        *,
        preview_chars: int,
        cancelled: asyncio.Event | None = None,
        ocr: str = "auto",
        on_progress: Callable[[dict[str, Any]], Awaitable[None]] | None = None,
    ) -> ParseSummary:
        """Parse `path` in a worker, which writes the ParsedDocument's JSON to `out`. `ocr` is the OCR mode
        (auto, off, force); `on_progress` gets each OCR'd page's progress message (page, done, total, confidence).

        Raises ParseError (the parse module's codes, or PARSE_MEMORY_EXCEEDED, PARSE_TIMEOUT, PARSER_CRASHED),
        ParseCancelled, or RuntimeError for a parser bug.
        """
        if self._closed:
            raise RuntimeError("the parse pool is closed")
        async with self._slots:
            worker = self._idle.pop() if self._idle else await self._start()
            self._busy.add(worker)
            keep = False
            try:
                await worker.send(
                    {
                        "path": str(path),
                        "content_type": content_type,
                        "out": str(out),
                        "preview": preview_chars,
                        "ocr": ocr,
                    }
                )
                deadline = time.monotonic() + self.timeout_seconds
                peak = 0
                try:
                    while True:
                        message, seen = await worker.receive(deadline, cancelled, self.memory_bytes)
                        peak = max(peak, seen)
                        if message["status"] == "baseline":  # the worker loaded the OCR engine, and keeps it
                            worker.idle_rss = int(message["idle_rss"])
                        elif message["status"] == "progress":
                            if on_progress is not None:
                                await on_progress(message)
                        else:
                            break
                except TimeoutError:
                    raise ParseError(
                        PARSE_TIMEOUT,
                        f"Parsing this file took longer than {self.timeout_seconds:g} s, the limit for one parse, "
                        "so it was stopped. Split the document into smaller files, or ask the operator to raise "
                        "VECFLOW_PARSE_TIMEOUT_SECONDS.",
                    ) from None
                status, value = message["status"], message["value"]
                keep = not message["retire"]
                if status == "ok":
                    return ParseSummary(**{**value, "peak_rss_bytes": peak})
                if status == "failed":
                    raise ParseError(*value)
                raise RuntimeError(value)
            finally:
                self._busy.discard(worker)
                if keep and not self._closed:
                    self._idle.append(worker)
                else:
                    await worker.stop()

    async def warm(self) -> None:
        """Start one worker ahead of the first parse (the server's warm-up), so that parse pays no start-up."""
        if self._closed or self._idle or self._busy:
            return
        async with self._slots:
            if not self._idle and not self._closed:
                self._idle.append(await self._start())

    async def _start(self) -> _Worker:
        if self._tokenizer is None:
            self._tokenizer = await asyncio.to_thread(self._tokenizer_source)
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "vecflow.pipeline.parse_worker",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            limit=_REPLY_LIMIT,
        )
        worker = _Worker(process)
        try:
            await worker.send(
                {
                    "parent": os.getpid(),
                    "tokenizer": self._tokenizer,
                    "limits": asdict(self.limits),
                    "memory_bytes": self.memory_bytes,
                }
            )
            message, _ = await worker.receive(time.monotonic() + START_TIMEOUT_SECONDS, None, 1 << 62)
        except BaseException:
            await worker.stop()
            raise
        worker.idle_rss = int(message["idle_rss"])
        log.debug("parse worker started", extra={"pid": process.pid, "idle_rss": worker.idle_rss})
        return worker

    async def close(self) -> None:
        """Stop every worker (a parse in progress fails with PARSER_CRASHED)."""
        self._closed = True
        workers = [*self._idle, *self._busy]
        self._idle.clear()
        await asyncio.gather(*(worker.stop() for worker in workers), return_exceptions=True)


if __name__ == "__main__":
    _main()
