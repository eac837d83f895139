"""Embedding and chunking, with the real packaged all-MiniLM-L6-v2 model (loaded once for the whole process)
and an OpenAI-compatible endpoint served by a small HTTP server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import math
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np
import pytest
from vecflow.pipeline.chunk import Chunk, chunk_text, count_tokens
from vecflow.pipeline.embed import (
    DEFAULT_MODEL_NAME,
    EMBEDDING_BAD_RESPONSE,
    EMBEDDING_UNAVAILABLE,
    Embedder,
    EmbeddingError,
    LocalEmbedder,
    OpenAIEmbedder,
    embedder_from_settings,
    load_local_model,
)

# ---------------------------------------------------------------------------------------------------------------
# Fixtures


@pytest.fixture(scope="session")
def local_model() -> Any:
    """The sentence-transformers model itself (cached by vecflow for the process: every embedder shares it)."""
    return load_local_model(LocalEmbedder().path).model


@pytest.fixture(scope="session")
def embedder(local_model: Any) -> Iterator[LocalEmbedder]:
    shared = LocalEmbedder()
    yield shared
    asyncio.run(shared.close())


@pytest.fixture(scope="session")
def tokenizer(embedder: LocalEmbedder) -> Any:
    return embedder.tokenizer


def cosine(a: list[float], b: list[float]) -> float:
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


def direct(model: Any, texts: list[str]) -> np.ndarray:
    return model.encode(texts, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)


# ---------------------------------------------------------------------------------------------------------------
# LocalEmbedder


async def test_local_vectors_have_384_dimensions_and_unit_norm(embedder: LocalEmbedder) -> None:
    as_protocol: Embedder = embedder
    assert as_protocol.name == DEFAULT_MODEL_NAME
    assert embedder.dimension == 384
    assert embedder.max_tokens == 254  # 256 positions less [CLS] and [SEP]
    assert embedder.tokenizer.is_fast
    vectors = await embedder.embed(["hello world", "", "A longer sentence about vector databases."])
    assert len(vectors) == 3
    for vector in vectors:
        assert len(vector) == 384
        assert all(isinstance(x, float) for x in vector)
        assert math.isclose(math.sqrt(sum(x * x for x in vector)), 1.0, abs_tol=1e-4)
    assert await embedder.embed([]) == []


async def test_similar_sentences_score_higher_than_unrelated_ones(embedder: LocalEmbedder) -> None:
    guitar, plays, market, cat, kitten = await embedder.embed(
        [
            "A man is playing a guitar on stage.",
            "Someone performs a song on an acoustic guitar.",
            "The central bank raised interest rates again this quarter.",
            "The cat sleeps on the warm windowsill.",
            "A kitten is napping in the sun by the window.",
        ]
    )
    assert cosine(guitar, plays) > cosine(guitar, market) + 0.3
    assert cosine(cat, kitten) > cosine(cat, market) + 0.3
    assert cosine(cat, kitten) > cosine(cat, guitar)


async def test_concurrent_callers_share_batches_and_get_their_own_vectors(local_model: Any) -> None:
    embedder = LocalEmbedder(batch_size=64, max_wait_ms=20)
    try:
        jobs = [[f"Job {job} chunk {i}: notes on topic {(job * 7 + i) % 11}." for i in range(5)] for job in range(12)]
        results = await asyncio.gather(*(embedder.embed(texts) for texts in jobs))
        assert embedder.encode_calls < len(jobs), "concurrent requests were not batched together"
        assert embedder.texts_encoded == 60
        for texts, vectors in zip(jobs, results, strict=True):
            assert np.allclose(np.asarray(vectors), direct(local_model, texts), atol=1e-4)
    finally:
        await embedder.close()


@pytest.mark.parametrize("workers", [1, 3])
async def test_several_encoders_return_each_caller_the_right_vectors(local_model: Any, workers: int) -> None:
    """Batches run on several encoder threads at once (the tokenizer is shared): every caller gets exactly
    the vectors of its own texts, even when one request's parts finish on different encoders."""
    embedder = LocalEmbedder(batch_size=4, workers=workers, torch_threads=1, max_wait_ms=1)
    try:
        assert embedder.workers == workers and embedder.torch_threads == 1
        jobs = [
            [f"Caller {job} text {i} about subject {(job * 5 + i) % 13}." for i in range(1 + job % 6)]
            for job in range(16)
        ]
        results = await asyncio.gather(*(embedder.embed(texts) for texts in jobs))
        assert embedder.texts_encoded == sum(len(texts) for texts in jobs)
        assert embedder.encode_calls >= embedder.texts_encoded / 4
        for texts, vectors in zip(jobs, results, strict=True):
            assert np.allclose(np.asarray(vectors), direct(local_model, texts), atol=1e-4)
    finally:
        await embedder.close()


async def test_requests_larger_than_a_batch_are_split_fairly(local_model: Any) -> None:
    embedder = LocalEmbedder(batch_size=8, workers=1, max_wait_ms=20)
    try:
        big = [f"Paragraph {i} of a long report about river ecology." for i in range(30)]
        small = ["A short question?", "And its answer."]
        big_task = asyncio.create_task(embedder.embed(big))
        small_task = asyncio.create_task(embedder.embed(small))
        done, _ = await asyncio.wait({big_task, small_task}, return_when=asyncio.FIRST_COMPLETED)
        assert done == {small_task}, "the small request waited for the whole big one"
        big_vectors, small_vectors = await big_task, await small_task
        assert embedder.encode_calls == 4  # 32 texts in full batches of 8
        assert np.allclose(np.asarray(big_vectors), direct(local_model, big), atol=1e-4)
        assert np.allclose(np.asarray(small_vectors), direct(local_model, small), atol=1e-4)
    finally:
        await embedder.close()


async def test_event_loop_stays_responsive_while_embedding(local_model: Any) -> None:
    embedder = LocalEmbedder()
    texts = [
        f"Document {i}: the quarterly report describes revenue, costs, hiring plans and risks in region {i % 13}, "
        f"with remarks on supply chains, customer churn and the product roadmap for the coming year."
        for i in range(320)
    ]
    lags: list[float] = []
    done = asyncio.Event()

    async def ticker() -> None:
        while not done.is_set():
            before = time.perf_counter()
            await asyncio.sleep(0.005)
            lags.append(time.perf_counter() - before - 0.005)

    ticking = asyncio.create_task(ticker())
    try:
        started = time.perf_counter()
        results = await asyncio.gather(*(embedder.embed(texts[i : i + 32]) for i in range(0, len(texts), 32)))
        elapsed = time.perf_counter() - started
    finally:
        done.set()
        await ticking
        await embedder.close()
    assert sum(len(r) for r in results) == len(texts)
    assert len(lags) > 10, f"the ticker barely ran ({len(lags)} ticks in {elapsed:.2f}s)"
    assert max(lags) < 0.2, f"event loop blocked for {max(lags) * 1000:.0f} ms"


async def test_a_cancelled_caller_does_not_disturb_the_others(local_model: Any) -> None:
    embedder = LocalEmbedder(batch_size=4)
    try:
        doomed = asyncio.create_task(embedder.embed([f"cancelled text {i}" for i in range(200)]))
        await asyncio.sleep(0)
        kept_texts = ["kept one", "kept two", "kept three"]
        kept = asyncio.create_task(embedder.embed(kept_texts))
        await asyncio.sleep(0.05)
        doomed.cancel()
        vectors = await kept
        with pytest.raises(asyncio.CancelledError):
            await doomed
        assert np.allclose(np.asarray(vectors), direct(local_model, kept_texts), atol=1e-4)
        assert embedder.texts_encoded < 203  # the cancelled request's remaining texts were dropped
    finally:
        await embedder.close()


async def test_closed_embedder_refuses_work(local_model: Any) -> None:
    embedder = LocalEmbedder()
    assert len(await embedder.embed(["before close"])) == 1
    await embedder.close()
    await embedder.close()
    with pytest.raises(EmbeddingError) as caught:
        await embedder.embed(["after close"])
    assert caught.value.code == EMBEDDING_UNAVAILABLE


async def test_a_missing_model_fails_with_embedding_unavailable(tmp_path: Any) -> None:
    embedder = LocalEmbedder(tmp_path / "no-model-here")
    try:
        with pytest.raises(EmbeddingError) as caught:
            await embedder.embed(["anything"])
        assert caught.value.code == EMBEDDING_UNAVAILABLE
        assert "no-model-here" in caught.value.message
    finally:
        await embedder.close()


def test_settings_pick_the_embedder() -> None:
    local = embedder_from_settings("", "", "")
    assert isinstance(local, LocalEmbedder)
    assert local.name == DEFAULT_MODEL_NAME
    assert embedder_from_settings("all-MiniLM-L6-v2", "", "").path == local.path  # type: ignore[attr-defined]
    remote = embedder_from_settings("text-embedding-3-small", "http://127.0.0.1:9/", "key", dimension=1536)
    assert isinstance(remote, OpenAIEmbedder)
    assert remote.url == "http://127.0.0.1:9/v1/embeddings"
    assert remote.dimension == 1536
    assert OpenAIEmbedder("http://127.0.0.1:9/v1", "m").url == "http://127.0.0.1:9/v1/embeddings"
    with pytest.raises(ValueError):
        embedder_from_settings("", "http://127.0.0.1:9", "")


# ---------------------------------------------------------------------------------------------------------------
# chunk_text

WORDS = (
    "river stone water light green field house music paper table window garden story market road "
    "winter summer forest city night morning school teacher family friend letter"
).split()


def prose(sentences: int, seed: int = 0, words_per_sentence: int = 9, paragraph_every: int = 6) -> str:
    """Sentences of single-token words: each sentence is words_per_sentence + 1 ('.') tokens."""
    rng = np.random.default_rng(seed)
    parts: list[str] = []
    for i in range(sentences):
        words = [WORDS[k] for k in rng.integers(0, len(WORDS), words_per_sentence)]
        parts.append(" ".join(words).capitalize() + ".")
        if i + 1 < sentences:
            parts.append("\n\n" if (i + 1) % paragraph_every == 0 else " ")
    return "".join(parts)


def check_chunks(text: str, chunks: list[Chunk], tokenizer: Any, max_tokens: int) -> None:
    assert [c.index for c in chunks] == list(range(len(chunks)))
    for c in chunks:
        assert text[c.char_start : c.char_end] == c.text
        assert c.text and c.text == c.text.strip()
        assert 0 < c.token_count <= max_tokens
        assert count_tokens(c.text, tokenizer) == c.token_count
    starts = [c.char_start for c in chunks]
    assert starts == sorted(set(starts))
    # Together the chunks cover every non-space character.
    covered = np.zeros(len(text), dtype=bool)
    for c in chunks:
        covered[c.char_start : c.char_end] = True
    assert all(covered[m.start()] for m in re.finditer(r"\S", text))


def test_chunks_are_exact_slices_within_the_token_limit(tokenizer: Any) -> None:
    text = prose(120, seed=1)
    chunks = chunk_text(text, tokenizer, max_tokens=64, overlap_tokens=16)
    assert len(chunks) > 10
    check_chunks(text, chunks, tokenizer, 64)
    assert chunk_text(text, tokenizer, 64, 16) == chunks  # deterministic


def test_consecutive_chunks_share_the_configured_overlap(tokenizer: Any) -> None:
    text = prose(120, seed=2)
    for overlap in (0, 8, 25, 32):
        chunks = chunk_text(text, tokenizer, max_tokens=64, overlap_tokens=overlap)
        check_chunks(text, chunks, tokenizer, 64)
        for before, after in itertools.pairwise(chunks):
            if overlap == 0:
                assert after.char_start > before.char_end
            else:
                shared = text[after.char_start : before.char_end]
                assert count_tokens(shared, tokenizer) == overlap, (overlap, shared)


def test_windows_end_at_sentence_and_paragraph_breaks(tokenizer: Any) -> None:
    # Sentences of 10 tokens: the last fifth (12 tokens) of a 64-token window always holds a sentence end.
    text = prose(100, seed=3, paragraph_every=1000)
    chunks = chunk_text(text, tokenizer, max_tokens=64, overlap_tokens=0)
    assert all(c.text.endswith(".") for c in chunks)
    # A paragraph break in the last fifth wins over a later sentence end.
    text = prose(20, seed=4, words_per_sentence=4, paragraph_every=11)  # break after 55 tokens
    first = chunk_text(text, tokenizer, max_tokens=60, overlap_tokens=0)[0]
    assert first.token_count == 55
    assert text[first.char_end : first.char_end + 2] == "\n\n"
    # Without any break, windows are cut at the token limit.
    text = " ".join(WORDS[i % len(WORDS)] for i in range(500))
    chunks = chunk_text(text, tokenizer, max_tokens=50, overlap_tokens=10)
    assert [c.token_count for c in chunks[:-1]] == [50] * (len(chunks) - 1)


def test_chunks_never_start_inside_a_word(tokenizer: Any) -> None:
    text = " ".join(["internationalization", "notwithstanding", "electroencephalography", "river"] * 80)
    chunks = chunk_text(text, tokenizer, max_tokens=40, overlap_tokens=7)
    check_chunks(text, chunks, tokenizer, 40)
    for c in chunks:
        assert c.char_start == 0 or text[c.char_start - 1] == " "


def test_pages_are_assigned_by_chunk_start(tokenizer: Any) -> None:
    page_texts = [prose(12, seed=10 + p) for p in range(4)]
    text, pages, offset = "", [], 0
    for number, page in enumerate(page_texts, start=1):
        pages.append((number, offset, offset + len(page)))
        text += page + "\f"
        offset = len(text)
    chunks = chunk_text(text, tokenizer, max_tokens=48, overlap_tokens=8, pages=pages)
    check_chunks(text, chunks, tokenizer, 48)
    assert {c.page for c in chunks} == {1, 2, 3, 4}
    for c in chunks:
        number, start, end = pages[c.page - 1]
        assert start <= c.char_start < end
    assert {c.page for c in chunk_text(text, tokenizer, 48, 8)} == {0}


def test_unicode_text_keeps_exact_positions(tokenizer: Any) -> None:
    text = (
        "Café déjà vu — naïve façade. 日本語のテキストです。Ünïcödé “quotes” and emoji 🙂 here!\n\n"
        "Zürich, Kraków, São Paulo.\tTabs\u00a0and non-breaking spaces. "
    ) * 40
    chunks = chunk_text(text, tokenizer, max_tokens=32, overlap_tokens=6)
    check_chunks(text, chunks, tokenizer, 32)


def test_empty_and_whitespace_texts_have_no_chunks(tokenizer: Any) -> None:
    assert chunk_text("", tokenizer, 64, 8) == []
    assert chunk_text(" \n\t\f  \n", tokenizer, 64, 8) == []
    assert count_tokens("", tokenizer) == 0
    [only] = chunk_text("  Hello world.  ", tokenizer, 64, 8)
    assert (only.text, only.char_start, only.char_end, only.token_count, only.page) == ("Hello world.", 2, 14, 3, 0)


@pytest.mark.parametrize(
    ("max_tokens", "overlap"), [(15, 0), (0, 0), (64, -1), (64, 33), (16, 9), (64.0, 8), (64, True)]
)
def test_invalid_sizes_raise(tokenizer: Any, max_tokens: Any, overlap: Any) -> None:
    with pytest.raises(ValueError):
        chunk_text("some text", tokenizer, max_tokens, overlap)


def test_limits_are_accepted_at_the_edges(tokenizer: Any) -> None:
    text = prose(20, seed=5)
    check_chunks(text, chunk_text(text, tokenizer, 16, 8), tokenizer, 16)
    check_chunks(text, chunk_text(text, tokenizer, 16, 0), tokenizer, 16)


def test_a_large_text_is_chunked_quickly_and_exactly(tokenizer: Any) -> None:
    # About 2 MB: many tokenizer blocks; chunks spanning block seams must be exact too.
    text = prose(40_000, seed=6)
    assert len(text) > 2_000_000
    started = time.perf_counter()
    chunks = chunk_text(text, tokenizer, max_tokens=254, overlap_tokens=64)
    elapsed = time.perf_counter() - started
    assert elapsed < 30, f"chunking {len(text)} characters took {elapsed:.1f}s"
    assert count_tokens(text, tokenizer) == 400_000
    for c in chunks[::50] + chunks[-3:]:
        assert text[c.char_start : c.char_end] == c.text
        assert count_tokens(c.text, tokenizer) == c.token_count <= 254


def test_chunking_ignores_truncation_set_on_the_tokenizer(tokenizer: Any) -> None:
    # Hugging Face tokenizers keep truncation/padding as state (the packaged tokenizer.json even ships with
    # truncation at 128 tokens); a call that sets them must not shorten what the chunker sees.
    tokenizer("some text " * 200, truncation=True, max_length=20)
    text = prose(60, seed=7)
    chunks = chunk_text(text, tokenizer, max_tokens=254, overlap_tokens=0)
    assert chunks[0].token_count > 200
    assert count_tokens(text, tokenizer) == 600


async def test_chunks_from_the_model_tokenizer_embed_without_truncation(embedder: LocalEmbedder) -> None:
    text = prose(80, seed=8)
    chunks = chunk_text(text, embedder.tokenizer, embedder.max_tokens, 32)
    assert max(c.token_count for c in chunks) > 200
    # With [CLS] and [SEP] every chunk fits the model's 256 positions exactly.
    encoded = embedder.tokenizer([c.text for c in chunks], add_special_tokens=True, truncation=False)
    assert max(len(ids) for ids in encoded["input_ids"]) <= 256
    vectors = await embedder.embed([c.text for c in chunks])
    assert len(vectors) == len(chunks)


# ---------------------------------------------------------------------------------------------------------------
# OpenAIEmbedder against a real HTTP server on 127.0.0.1


def fake_vector(text: str, dim: int = 8) -> list[float]:
    """Deterministic and deliberately not normalised."""
    digest = hashlib.sha256(text.encode()).digest()
    return [digest[i] - 127.5 for i in range(dim)]


def normalised(vector: list[float]) -> list[float]:
    norm = math.sqrt(sum(x * x for x in vector))
    return [x / norm for x in vector]


@dataclass
class FakeEndpoint:
    """An /v1/embeddings server. `plan` holds canned answers (status, body, headers) served first, in order."""

    url: str = ""
    plan: list[tuple[int, Any, dict[str, str]]] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, path: str, headers: Any, raw: bytes) -> tuple[int, bytes, dict[str, str]]:
        with self.lock:
            self.requests.append({"path": path, "auth": headers.get("Authorization"), "body": raw})
            canned = self.plan.pop(0) if self.plan else None
        if canned is not None:
            status, body, extra = canned
            return status, body if isinstance(body, bytes) else json.dumps(body).encode(), extra
        if path != "/v1/embeddings":
            return 404, b'{"error": "not found"}', {}
        request = json.loads(raw)
        data = [
            {"object": "embedding", "index": i, "embedding": fake_vector(t)} for i, t in enumerate(request["input"])
        ]
        data.reverse()  # the index, not the order, says which input a vector belongs to
        return 200, json.dumps({"object": "list", "data": data, "model": request["model"]}).encode(), {}


@pytest.fixture
def endpoint() -> Iterator[FakeEndpoint]:
    fake = FakeEndpoint()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            status, body, extra = fake.answer(self.path, self.headers, raw)
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for name, value in extra.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield fake
    server.shutdown()
    server.server_close()
    thread.join(5)


def remote(endpoint: FakeEndpoint, **options: Any) -> OpenAIEmbedder:
    options = {"backoff": 0.01, "max_backoff": 0.05, "timeout": 5.0, **options}
    return OpenAIEmbedder(endpoint.url, "fake-embed-8", "secret-key", **options)


async def test_openai_embedder_batches_orders_and_normalises(endpoint: FakeEndpoint) -> None:
    embedder = remote(endpoint, batch_size=4)
    try:
        texts = [f"text number {i}" for i in range(10)]
        vectors = await embedder.embed(texts)
        assert embedder.dimension == 8
        for text, vector in zip(texts, vectors, strict=True):
            assert np.allclose(vector, normalised(fake_vector(text)))
            assert math.isclose(sum(x * x for x in vector), 1.0)
        assert len(endpoint.requests) == 3
        bodies = [json.loads(r["body"]) for r in endpoint.requests]
        assert sorted(len(b["input"]) for b in bodies) == [2, 4, 4]
        assert sorted(t for b in bodies for t in b["input"]) == sorted(texts)
        assert {b["model"] for b in bodies} == {"fake-embed-8"}
        assert {r["auth"] for r in endpoint.requests} == {"Bearer secret-key"}
        assert {r["path"] for r in endpoint.requests} == {"/v1/embeddings"}
        assert await embedder.embed([]) == []
    finally:
        await embedder.close()


async def test_openai_embedder_load_discovers_the_dimension_and_tokenizer(endpoint: FakeEndpoint) -> None:
    embedder = remote(endpoint)
    try:
        with pytest.raises(RuntimeError):
            _ = embedder.dimension
        await embedder.load()
        assert embedder.dimension == 8
        assert embedder.max_tokens == 512
        assert embedder.tokenizer.is_fast  # the packaged model's tokenizer, for chunking
        assert count_tokens("hello world", embedder.tokenizer) == 2
        as_protocol: Embedder = embedder
        assert as_protocol.dimension == 8
    finally:
        await embedder.close()


async def test_openai_embedder_retries_server_errors(endpoint: FakeEndpoint) -> None:
    endpoint.plan = [(500, {"error": "boom"}, {}), (429, {"error": "slow down"}, {"Retry-After": "0"})]
    embedder = remote(endpoint)
    try:
        [vector] = await embedder.embed(["retry me"])
        assert np.allclose(vector, normalised(fake_vector("retry me")))
        assert len(endpoint.requests) == 3
    finally:
        await embedder.close()


async def test_openai_embedder_gives_up_after_its_retries(endpoint: FakeEndpoint) -> None:
    endpoint.plan = [(503, {"error": "overloaded"}, {})] * 5
    embedder = remote(endpoint, max_retries=2)
    try:
        with pytest.raises(EmbeddingError) as caught:
            await embedder.embed(["never"])
        assert caught.value.code == EMBEDDING_UNAVAILABLE
        assert "503" in caught.value.message and "3 attempts" in caught.value.message
        assert len(endpoint.requests) == 3
    finally:
        await embedder.close()


async def test_openai_embedder_does_not_retry_client_errors(endpoint: FakeEndpoint) -> None:
    endpoint.plan = [(401, {"error": {"message": "invalid api key"}}, {})]
    embedder = remote(endpoint)
    try:
        with pytest.raises(EmbeddingError) as caught:
            await embedder.embed(["no entry"])
        assert caught.value.code == EMBEDDING_UNAVAILABLE
        assert "401" in caught.value.message and "invalid api key" in caught.value.message
        assert len(endpoint.requests) == 1
    finally:
        await embedder.close()


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (b"<html>not json</html>", "not JSON"),
        ({"object": "list"}, "no 'data' list"),
        ({"data": [{"index": 0, "embedding": [1.0, 0.0]}]}, "1 embeddings for 2 inputs"),
        ({"data": [{"index": 0, "embedding": [1.0]}, {"index": 0, "embedding": [1.0]}]}, "appears twice"),
        ({"data": [{"index": 0, "embedding": [1.0, 2.0]}, {"index": 1, "embedding": [1.0]}]}, "different lengths"),
        ({"data": [{"index": 0, "embedding": "AAAA"}, {"index": 1, "embedding": [1.0]}]}, "not a non-empty list"),
        ({"data": [{"index": 0, "embedding": [1.0, None]}, {"index": 1, "embedding": [1.0, 0]}]}, "holds None"),
        ({"data": [{"index": 0, "embedding": [0.0, 0.0]}, {"index": 1, "embedding": [1.0, 0]}]}, "zero vector"),
    ],
)
async def test_openai_embedder_rejects_malformed_answers(endpoint: FakeEndpoint, body: Any, why: str) -> None:
    endpoint.plan = [(200, body, {})]
    embedder = remote(endpoint)
    try:
        with pytest.raises(EmbeddingError) as caught:
            await embedder.embed(["first", "second"])
        assert caught.value.code == EMBEDDING_BAD_RESPONSE
        assert why in caught.value.message
        assert len(endpoint.requests) == 1  # a malformed answer is not retried
    finally:
        await embedder.close()


async def test_openai_embedder_checks_a_configured_dimension(endpoint: FakeEndpoint) -> None:
    embedder = remote(endpoint, dimension=16)
    try:
        with pytest.raises(EmbeddingError) as caught:
            await embedder.embed(["eight dimensions"])
        assert caught.value.code == EMBEDDING_BAD_RESPONSE
        assert "expected 16" in caught.value.message
    finally:
        await embedder.close()


async def test_openai_embedder_reports_an_unreachable_endpoint() -> None:
    import socket

    with socket.socket() as probe:  # a port with nothing listening
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    embedder = OpenAIEmbedder(f"http://127.0.0.1:{port}", "m", max_retries=1, backoff=0.01)
    try:
        with pytest.raises(EmbeddingError) as caught:
            await embedder.embed(["hello"])
        assert caught.value.code == EMBEDDING_UNAVAILABLE
        assert "could not be reached" in caught.value.message
    finally:
        await embedder.close()
