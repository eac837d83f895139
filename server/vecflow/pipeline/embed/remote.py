"""`OpenAIEmbedder`: an OpenAI-compatible embeddings endpoint over httpx, with retries and backoff."""

from __future__ import annotations

import asyncio
import logging
import math
import random
from collections.abc import Sequence
from typing import Any

from vecflow.pipeline.embed.base import (
    DEFAULT_BATCH_SIZE,
    EMBEDDING_BAD_RESPONSE,
    EMBEDDING_UNAVAILABLE,
    EmbeddingError,
)
from vecflow.pipeline.embed.loading import load_tokenizer

log = logging.getLogger(__package__)  # "vecflow.pipeline.embed", the name its log lines have always had

# OpenAI-compatible endpoints serve many models; this is a conservative input limit for chunking when the
# operator does not state the served model's own.
DEFAULT_REMOTE_MAX_TOKENS = 512


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
