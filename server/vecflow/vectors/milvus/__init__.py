"""The Milvus adapter: every call vecflow makes to Milvus goes through `MilvusIndex`.

`uri` is either a local file ending in ``.db`` (milvus-lite: the engine runs in a child process over a
Unix socket) or ``http(s)://host:port`` for a Milvus server. pymilvus is blocking, so every call runs on
a small thread pool owned by the index; the public methods are coroutines and never block the loop.

Collections (created by `open()` when missing; opening again is a no-op)
------------------------------------------------------------------------
``vecflow_chunks`` -- one row per chunk of a vector-store file:

    pk               VARCHAR(256)   primary key, chosen by the caller (no auto id)
    project_id       VARCHAR(64)    INVERTED index
    vector_store_id  VARCHAR(64)    INVERTED index
    file_id          VARCHAR(64)    INVERTED index
    file_name        VARCHAR(1024)  (truncated to 1024 UTF-8 bytes)
    chunk_index, page, char_start, char_end     INT64
    text             VARCHAR(65535) the keyword analyzer (english), enable_match
    sparse           SPARSE_FLOAT_VECTOR = BM25(text), computed by Milvus; SPARSE_INVERTED_INDEX, BM25
    dense            FLOAT_VECTOR(dim), COSINE; VECFLOW_MILVUS_INDEX, "auto": FLAT on milvus-lite, HNSW on a server
    attributes       JSON, free-form, for the caller's filters
    section          VARCHAR(2048)  the chunk's section path ("2 Basic › 2.1 Numbers"); INVERTED index.
                     A collection created before sections lacks it and works on without (`schema`).

``vecflow_chunks_<analyzer>`` -- the same, for the stores whose keyword analyzer is not english (`analyzers`:
a text field's analyzer is fixed when its collection is made), created on first use.

``vecflow_items_default`` and ``vecflow_items_categories`` -- upsertion-task items:

    pk VARCHAR(640) (``f"{project_id}:{object_id}"``), project_id VARCHAR(64) and object_id VARCHAR(512)
    (both INVERTED), text / sparse / dense as above, payload JSON, item_info JSON.
    (pk is 640 rather than 256 long: 64 + 1 + 512 characters must fit.) ``..._<analyzer>`` twins as for chunks.

Why it looks like this
----------------------
* Deterministic primary keys: the caller derives ``pk`` from what the row is (store, file, chunk index),
  so a retried job *upserts* the same rows instead of adding duplicates.
* Tenancy and filters use typed, INVERTED-indexed VARCHAR/INT64 fields, not JSON paths (orders of
  magnitude slower on milvus-lite) and not partition keys (milvus-lite does not support them). Every
  read and delete is scoped by ``project_id == ... [and vector_store_id == ...]`` built from values quoted
  by `lit`; the caller's expression is ANDed in parentheses after a check that it cannot close them, and
  each hit's tenant fields are checked again in Python.
* Primary keys are stored with ``%``, ``'`` and ``\\`` percent-escaped (``%25 %27 %5C``) and handed back
  unescaped in `Hit.pk`: milvus-lite quotes pks into internal ``pk in ['...']`` expressions without
  escaping, so an upsert of a pk with ``'`` fails and a hybrid search returning a pk with ``\\`` kills
  the engine. Ordinary ids are stored unchanged.
* If the milvus-lite child dies anyway, the next call restarts it and reconnects (the failing call errs).
* The dense index (`dense`): an explicit type is built as given (a server that refuses it fails `open()`);
  "auto" asks the server: milvus-lite's engine (a ``.db`` file or its TCP server) does not implement
  GetVersion and cannot build HNSW, so it gets FLAT (it searches exactly anyway); a server that answers gets
  HNSW (and FLAT should it refuse HNSW after all). The choice is logged. A collection that already has a dense
  index keeps it, whatever the setting: indexes are never rebuilt; search parameters follow the kept one.
* Consistency: collections are created with Strong consistency and every search and count asks for
  Strong, so a read right after an upsert or delete sees it (verified on milvus-lite without flush()).
* Errors: pymilvus exceptions never leave this package; they become `VectorIndexError`, or
  `InvalidFilterError` (with Milvus' message) when a failed search turns out to be the filter's fault: a
  one-row query with the same expression fails as a parameter error. milvus-lite's parser recovers from
  some typos silently (``a ==== 1`` runs as ``a == 1``, trailing junk is dropped); only what it reports
  can be reported.
* pymilvus retries failed RPCs up to 75 times with back-off (minutes); a ``{name}`` template in a filter
  crashes milvus-lite's request handler with UNKNOWN, which it would retry for 3.5 minutes. Templates
  are refused up front, and calls pass ``retry_times`` (1 on lite, 5 on a server) and a per-call deadline.
* String literals: milvus-lite only understands the ``\\"`` and ``\\\\`` escapes; ``\\uXXXX`` and ``\\n`` are
  kept verbatim and match nothing, so non-ASCII text must be passed as is (`string_literal` does this;
  ``json.dumps`` without ``ensure_ascii=False`` does not).
* milvus-lite logging: we start its child process ourselves (a subclass of milvus_lite's Server) with its
  stdout/stderr appended to ``<db dir>/<db stem>-lite.log``, glog sent to that stream
  (``GLOG_logtostderr=1``; otherwise it writes ``/tmp/milvus.*.log.*``), glog at ERROR and up
  (``GLOG_minloglevel=2``), and the tantivy INFO chatter off (``MY_LOG_LEVEL=warn``); pre-set values of
  the last two are respected. pymilvus' own stderr handlers are silenced (its errors reach the caller as
  exceptions). The Unix socket still lives in the temp dir (path-length limit) and is removed by close().

Modules
-------
``index`` (`MilvusIndex`), ``search`` (search and counts, `Hit`), ``schema`` (collections, indexes),
``analyzers`` (the keyword analyzers and their collections),
``dense`` (the dense index: its types, how "auto" decides, creating it), ``rows`` (primary keys, row checks),
``expressions`` (literals, scopes, the raw-filter pre-check), ``filters`` (the filter tree and its Milvus
rendering), ``errors`` (`VectorIndexError`, pymilvus error mapping), ``lite`` (milvus-lite's child process),
``client`` (loading pymilvus).
"""

from vecflow.vectors.milvus.analyzers import ANALYZERS, DEFAULT_ANALYZER, check_analyzer
from vecflow.vectors.milvus.dense import INDEX_TYPES
from vecflow.vectors.milvus.errors import InvalidFilterError, VectorIndexError
from vecflow.vectors.milvus.expressions import string_literal
from vecflow.vectors.milvus.filters import (
    And,
    Comparison,
    Field,
    Filter,
    Membership,
    Not,
    Number,
    Or,
    Prefix,
    Value,
    render_filter,
)
from vecflow.vectors.milvus.index import MilvusIndex, index_setting_refusal
from vecflow.vectors.milvus.rows import ITEM_PK_BYTES, chunk_generation, chunk_pk, item_pk, stored_pk_bytes
from vecflow.vectors.milvus.schema import CHUNKS_COLLECTION, ITEM_COLLECTIONS, ItemCollection
from vecflow.vectors.milvus.search import Hit, SearchMode

__all__ = [
    "ANALYZERS",
    "CHUNKS_COLLECTION",
    "DEFAULT_ANALYZER",
    "INDEX_TYPES",
    "ITEM_COLLECTIONS",
    "ITEM_PK_BYTES",
    "And",
    "Comparison",
    "Field",
    "Filter",
    "Hit",
    "InvalidFilterError",
    "ItemCollection",
    "Membership",
    "MilvusIndex",
    "Not",
    "Number",
    "Or",
    "Prefix",
    "SearchMode",
    "Value",
    "VectorIndexError",
    "check_analyzer",
    "chunk_generation",
    "chunk_pk",
    "index_setting_refusal",
    "item_pk",
    "render_filter",
    "stored_pk_bytes",
    "string_literal",
]
