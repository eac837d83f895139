"""`LocalEmbedder`: a sentence-transformers model on the CPU, micro-batching concurrent callers off the event loop."""

from __future__ import annotations

import asyncio
import logging
import os
import queue
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from vecflow import metrics
from vecflow.pipeline.embed.base import DEFAULT_BATCH_SIZE, EMBEDDING_UNAVAILABLE, EmbeddingError
from vecflow.pipeline.embed.loading import (
    FORWARD_TEXTS,
    _apply_torch_threads,
    _encode,
    _LoadedModel,
    default_torch_threads,
    load_local_model,
    resolve_local_model,
)

log = logging.getLogger(__package__)  # "vecflow.pipeline.embed", the name its log lines have always had

DEFAULT_MAX_WAIT_MS = 5.0
MAX_DEFAULT_WORKERS = 4  # encoder threads by default: one per core, up to this many (cores are shared out)


@dataclass(eq=False)
class _Request:
    texts: list[str]
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[list[list[float]]]
    results: list[list[float] | None] = field(default_factory=list)
    taken: int = 0  # texts handed to a batch so far
    finished: int = 0  # texts with a vector
    abandoned: bool = False  # the caller went away (cancelled); skip what is left

    @property
    def waiting(self) -> int:
        return len(self.texts) - self.taken


_STOP = object()


def _settle(future: asyncio.Future[Any], result: Any = None, error: BaseException | None = None) -> None:
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


class LocalEmbedder:
    """A sentence-transformers model on the CPU, shared by concurrent callers.

    `embed()` from any event loop (or several) puts its texts on a queue that one batching thread serves: it
    waits up to `max_wait_ms` for more requests while fewer than `batch_size` texts are pending, fills a batch
    from all pending requests in turn (so a big document does not starve a small one) and hands it to one of
    `workers` encoder threads, which runs one encode and gives each caller its vectors. Each encoder uses
    `torch_threads` intra-op threads (by default the cores divided among the workers): on a CPU shared with
    parsing and bookkeeping, independent single-threaded encoders lose far less to preemption than one encode
    spread over every core, whose threads wait for each other. The weights are loaded once per process per
    path (`load()` does it off the event loop; otherwise the first batch does). Create one instance per server
    and share it: batches are shared within an instance.

    `encode_calls` and `texts_encoded` count the work done, for tests and metrics.
    """

    def __init__(
        self,
        model: str | os.PathLike[str] = "",
        *,
        batch_size: int = DEFAULT_BATCH_SIZE,
        torch_threads: int | None = None,
        workers: int | None = None,
        max_wait_ms: float = DEFAULT_MAX_WAIT_MS,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        if torch_threads is not None and torch_threads < 1:
            raise ValueError(f"torch_threads must be at least 1, got {torch_threads}")
        if workers is not None and workers < 1:
            raise ValueError(f"workers must be at least 1, got {workers}")
        self._name, self.path = resolve_local_model(model)
        self.batch_size = batch_size
        cores = default_torch_threads()
        self.workers = workers or min(cores, MAX_DEFAULT_WORKERS)
        self.torch_threads = torch_threads or max(1, cores // self.workers)
        self.max_wait = max(0.0, max_wait_ms) / 1000
        self.encode_calls = 0
        self.texts_encoded = 0
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._batches: queue.Queue[Any] = queue.Queue(maxsize=1)  # one formed batch waits for a free encoder
        self._threads: list[threading.Thread] = []
        self._start_lock = threading.Lock()
        self._results_lock = threading.Lock()
        self._closed = False

    def __repr__(self) -> str:
        return (
            f"LocalEmbedder({self._name!r}, batch_size={self.batch_size}, workers={self.workers}, "
            f"torch_threads={self.torch_threads})"
        )

    # -- model facts (load on first use; `await load()` first to keep that off the event loop)

    def _loaded(self) -> _LoadedModel:
        return load_local_model(self.path, self.torch_threads)

    @property
    def name(self) -> str:
        return self._name

    @property
    def dimension(self) -> int:
        return self._loaded().dimension

    @property
    def max_tokens(self) -> int:
        return self._loaded().max_tokens

    @property
    def tokenizer(self) -> Any:
        """A copy of the model's tokenizer: calling it cannot disturb the encoder's truncation settings."""
        return self._loaded().tokenizer

    async def load(self) -> None:
        await asyncio.to_thread(self._loaded)

    # -- embedding

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        items = list(texts)
        for i, text in enumerate(items):
            if not isinstance(text, str):
                raise TypeError(f"texts[{i}] is {type(text).__name__}, not str")
        if not items:
            return []
        loop = asyncio.get_running_loop()
        request = _Request(items, loop, loop.create_future(), [None] * len(items))
        self._submit(request)
        try:
            return await request.future
        except asyncio.CancelledError:
            request.abandoned = True
            raise

    async def close(self) -> None:
        """Finish what is queued, then stop the threads. The weights stay cached for the process."""
        with self._start_lock:
            if self._closed:
                return
            self._closed = True
            threads = list(self._threads)
        if threads:
            self._queue.put(_STOP)
            for thread in threads:
                await asyncio.to_thread(thread.join)

    def _submit(self, request: _Request) -> None:
        # Under the lock, so that no request can be queued behind the stop marker.
        with self._start_lock:
            if self._closed:
                raise EmbeddingError(EMBEDDING_UNAVAILABLE, "the embedder is closed")
            if not self._threads:
                self._threads = [threading.Thread(target=self._work, name="vecflow-embed", daemon=True)]
                self._threads += [
                    threading.Thread(target=self._encode_loop, name=f"vecflow-embed-{n}", daemon=True)
                    for n in range(self.workers)
                ]
                for thread in self._threads:
                    thread.start()
            self._queue.put(request)

    def _work(self) -> None:
        """The batching thread: forms batches and hands them to the encoders."""
        active: deque[_Request] = deque()
        stopping = False
        while True:
            if not active:
                if stopping:
                    break
                item = self._queue.get()
                if item is _STOP:
                    break
                active.append(item)
            try:
                stopping = self._gather(active) or stopping
                parts = self._fill_batch(active)
                if parts:
                    self._batches.put(parts)
            except Exception as err:  # a bug here must not leave callers waiting forever
                log.exception("the embedding batcher failed")
                error = EmbeddingError(EMBEDDING_UNAVAILABLE, f"the embedding worker failed: {err}")
                while active:
                    self._deliver(active.popleft(), error=error)
        for _ in range(self.workers):
            self._batches.put(_STOP)

    def _encode_loop(self) -> None:
        while (parts := self._batches.get()) is not _STOP:
            try:
                self._run_batch(parts)
            except Exception as err:  # a bug here must not leave callers waiting forever
                log.exception("the embedding worker failed")
                self._fail(parts, EmbeddingError(EMBEDDING_UNAVAILABLE, f"the embedding worker failed: {err}"))

    def _gather(self, active: deque[_Request]) -> bool:
        """Move queued requests to `active`, waiting up to max_wait while less than a batch is pending.

        True when the stop marker was seen (requests queued before it are still served)."""
        deadline = time.monotonic() + self.max_wait
        stop = False
        while True:
            pending = sum(r.waiting for r in active if not r.abandoned)
            timeout = deadline - time.monotonic()
            try:
                if pending >= self.batch_size or timeout <= 0 or stop:
                    item = self._queue.get_nowait()
                else:
                    item = self._queue.get(timeout=timeout)
            except queue.Empty:
                return stop
            if item is _STOP:
                stop = True
            else:
                active.append(item)

    def _fill_batch(self, active: deque[_Request]) -> list[tuple[_Request, int, int]]:
        """Take up to batch_size texts, an equal share from each pending request (round robin).

        With little pending, take only a share of it, so that every encoder gets some (the last texts
        of a job are not left to one encoder while the others idle)."""
        for request in [r for r in active if r.abandoned]:  # cancelled by its caller, or failed
            active.remove(request)
        parts: list[tuple[_Request, int, int]] = []
        pending = sum(r.waiting for r in active)
        room = min(self.batch_size, max(FORWARD_TEXTS, -(-pending // self.workers)))
        while room and active:
            share = max(1, room // len(active))
            for request in list(active):
                if not room:
                    break
                take = min(share, request.waiting, room)
                parts.append((request, request.taken, request.taken + take))
                request.taken += take
                room -= take
                if not request.waiting:
                    active.remove(request)
        if active:
            active.rotate(-1)  # the next batch starts with another request
        return parts

    def _run_batch(self, parts: list[tuple[_Request, int, int]]) -> None:
        texts = [text for request, start, end in parts for text in request.texts[start:end]]
        cpu = time.thread_time()
        try:
            loaded = self._loaded()
            _apply_torch_threads(self.torch_threads)
            rows = _encode(loaded.model, texts)
        except Exception as err:
            if isinstance(err, EmbeddingError):
                error: EmbeddingError = err
            else:
                log.exception("local embedding failed for a batch of %d texts", len(texts))
                error = EmbeddingError(
                    EMBEDDING_UNAVAILABLE, f"the embedding model failed: {type(err).__name__}: {err}"
                )
            self._fail(parts, error)
            return
        finally:
            with self._results_lock:
                self.encode_calls += 1
            metrics.EMBED_BATCHES.inc()
            metrics.EMBED_CPU.inc(time.thread_time() - cpu)  # all of it when each encoder has one torch thread
        metrics.EMBED_TEXTS.inc(len(texts))
        with self._results_lock:  # parts of one request may finish on two encoders at once
            self.texts_encoded += len(texts)
            offset = 0
            for request, start, end in parts:
                request.results[start:end] = rows[offset : offset + end - start]
                offset += end - start
                request.finished += end - start
                if request.finished == len(request.texts):
                    self._deliver(request, result=request.results)

    def _fail(self, parts: list[tuple[_Request, int, int]], error: EmbeddingError) -> None:
        """Fail every request with texts in this batch; the batcher drops what is left of them."""
        for request in {request for request, _, _ in parts}:
            self._deliver(request, error=error)
            request.abandoned = True

    @staticmethod
    def _deliver(request: _Request, result: Any = None, error: BaseException | None = None) -> None:
        if request.abandoned:
            return
        try:
            request.loop.call_soon_threadsafe(_settle, request.future, result, error)
        except RuntimeError:  # the caller's loop is closed: nobody is waiting any more
            pass
