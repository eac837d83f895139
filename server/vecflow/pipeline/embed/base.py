"""What every embedder shares: the `Embedder` protocol, `EmbeddingError` and its codes, the default batch size."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from vecflow.failures import CodedFailure

EMBEDDING_UNAVAILABLE = "EMBEDDING_UNAVAILABLE"
EMBEDDING_BAD_RESPONSE = "EMBEDDING_BAD_RESPONSE"

DEFAULT_BATCH_SIZE = 64


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
