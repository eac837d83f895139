"""Keyword (BM25) analyzers: the names a vector store or an item collection chooses from, their Milvus analyzer
parameters, and the collections each one's rows live in.

Milvus fixes a text field's analyzer when its collection is created, and milvus-lite 2.5.1 has no per-row
analyzers (a ``multi_analyzer_params`` field is accepted, then its BM25 search finds nothing), so every analyzer
has collections of its own: ``english`` keeps the original names (``vecflow_chunks``, ``vecflow_items_default``,
``vecflow_items_categories``), any other analyzer ``x`` gets ``vecflow_chunks_x``, ``vecflow_items_default_x``
and ``vecflow_items_categories_x``, created the first time a store or collection with it needs them.

What milvus-lite 2.5.1 was found to accept, each created and searched (tests/test_sections.py does it again):
the built-in ``english`` (standard tokenizer, lowercase, English stemmer and stop words), ``standard``
(standard tokenizer, lowercase: words kept as written) and ``chinese`` (jieba, then only CJK and alphanumeric
tokens); ``whitespace`` (split at whitespace, lowercase: identifiers and codes stay whole); and, for the
languages of Milvus' Snowball stemmer filter, the standard tokenizer with lowercase and that stemmer. Left out:
the Arabic stemmer (creating a collection with it kills the 2.5.1 engine), the icu and lindera tokenizers (not
built into it) and stop-word lists other than English (``_french_`` and the like are taken as literal words).
"""

from __future__ import annotations

from typing import Any

from vecflow.vectors.milvus.errors import invalid

DEFAULT_ANALYZER = "english"
STEMMED_LANGUAGES = (
    "danish",
    "dutch",
    "finnish",
    "french",
    "german",
    "greek",
    "hungarian",
    "italian",
    "norwegian",
    "portuguese",
    "romanian",
    "russian",
    "spanish",
    "swedish",
    "tamil",
    "turkish",
)

ANALYZERS: dict[str, dict[str, Any]] = {
    "english": {"type": "english"},
    "standard": {"type": "standard"},
    "chinese": {"type": "chinese"},
    "whitespace": {"tokenizer": "whitespace", "filter": ["lowercase"]},
    **{
        language: {"tokenizer": "standard", "filter": ["lowercase", {"type": "stemmer", "language": language}]}
        for language in STEMMED_LANGUAGES
    },
}


def check_analyzer(name: object) -> str:
    """`name` if it is one of ANALYZERS, else INVALID_ARGUMENT (a VectorIndexError) listing them."""
    if not isinstance(name, str) or name not in ANALYZERS:
        raise invalid(f"keyword analyzer must be one of {', '.join(ANALYZERS)}, got {name!r}")
    return name


def collection_for(base: str, analyzer: str) -> str:
    """The collection holding `base`'s rows analysed by `analyzer` (`base` itself for the default)."""
    check_analyzer(analyzer)
    return base if analyzer == DEFAULT_ANALYZER else f"{base}_{analyzer}"


def analyzer_of(base: str, collection: str) -> str | None:
    """The analyzer whose `collection_for(base, ...)` is `collection`; None for another collection."""
    if collection == base:
        return DEFAULT_ANALYZER
    prefix = f"{base}_"
    suffix = collection[len(prefix) :] if collection.startswith(prefix) else ""
    return suffix if suffix in ANALYZERS and suffix != DEFAULT_ANALYZER else None
