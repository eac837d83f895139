"""`MilvusIndex`: the one object through which vecflow calls Milvus (see the package docstring)."""

from __future__ import annotations

import asyncio
import functools
import logging
import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from vecflow.vectors.milvus.analyzers import DEFAULT_ANALYZER, analyzer_of, collection_for
from vecflow.vectors.milvus.client import close_client, load_pymilvus
from vecflow.vectors.milvus.dense import choose, lite_refusal, resolve_index_type, server_version
from vecflow.vectors.milvus.errors import VectorIndexError, invalid, wrap
from vecflow.vectors.milvus.expressions import members, scope
from vecflow.vectors.milvus.lite import acquire_lite, alive, is_lite, lite_path, release_lite, revive_lite
from vecflow.vectors.milvus.rows import CHUNK_KEYS, chunk_row, dedupe, item_row, json_value
from vecflow.vectors.milvus.schema import (
    CHUNK_OUTPUT,
    CHUNKS_COLLECTION,
    ITEM_OUTPUT,
    CollectionState,
    ItemCollection,
    ensure_collection,
    ensure_collections,
    item_collection,
)
from vecflow.vectors.milvus.search import Hit, SearchMode, SearchRequest, count_sync, search_request, search_sync

if TYPE_CHECKING:
    from pymilvus import MilvusClient

RPC_TIMEOUT_S = 60.0  # a float on purpose: an int would make pymilvus retry for that long instead
CONNECT_TIMEOUT_S = 30.0
UPSERT_BATCH_ROWS = 512
UPSERT_BATCH_BYTES = 16 * 1024 * 1024
ATTRIBUTE_PAGE_ROWS = 512  # chunks read and rewritten at a time when attributes change

T = TypeVar("T")

log = logging.getLogger("vecflow.vectors.milvus")


def index_setting_refusal(uri: str, token: str, index_type: str, timeout: float = 3.0) -> str | None:
    """Why the engine at `uri` cannot build the explicit dense `index_type` (VECFLOW_MILVUS_INDEX), or None.

    Blocking; for a replica to refuse a setting before it serves rather than at the first collection it creates.
    Only HNSW is refused anywhere (by milvus-lite's engine: a ``.db`` file, without connecting, or its TCP server,
    which does not implement GetVersion). A server that cannot be reached is not refused here: the first call
    that needs Milvus reports that.
    """
    requested = resolve_index_type(index_type)
    if lite_refusal(requested) is None:
        return None
    if is_lite(uri):
        return lite_refusal(requested)
    pm = load_pymilvus()
    try:
        client = pm.MilvusClient(uri=uri, token=token, alias=f"vecflow-{uuid.uuid4().hex}", timeout=timeout)
    except Exception as exc:
        log.warning("could not reach Milvus at %s to check %s=%s: %s", uri, "VECFLOW_MILVUS_INDEX", requested, exc)
        return None
    try:
        lite = server_version(client, {"timeout": timeout}) is None
    except Exception as exc:
        log.warning("could not ask Milvus at %s its version: %s", uri, exc)
        return None
    finally:
        close_client(client)
    return f"the Milvus server at {uri} is milvus-lite's engine: {lite_refusal(requested)}" if lite else None


class MilvusIndex:
    """Chunks of vector-store files and upsertion-task items in Milvus (see the package docstring).

    Open it with ``await index.open()`` (or ``async with``); the other methods open it on first use.
    Methods raise `VectorIndexError` (`InvalidFilterError` for a filter Milvus refuses).

    `index_type` is "auto" or an explicit dense index type (see `dense.choose`); once open, `index_type` is the
    type the chunks collection has and `index_reason` says why (an existing collection keeps its index).
    """

    def __init__(self, uri: str, token: str = "", dim: int = 384, index_type: str = "auto") -> None:
        if not isinstance(uri, str) or not uri.strip():
            raise ValueError("a Milvus uri is required: a local path ending in .db, or http(s)://host:port")
        if isinstance(dim, bool) or not isinstance(dim, int) or not 1 <= dim <= 32768:
            raise ValueError(f"dim must be an integer between 1 and 32768, got {dim!r}")
        self.uri = uri.strip()
        self.dim = dim
        self._db: Path | None = lite_path(uri)
        self.is_lite = self._db is not None
        self.requested_index = resolve_index_type(index_type)
        self.index_type = self.requested_index  # what the chunks collection has, once open
        self.index_reason = ""
        self._dense: dict[str, str] = {}  # collection -> its dense index type (its search parameters)
        self._states: dict[str, CollectionState] = {}  # the collections opened so far (others: on first use)
        self._choice: Any = None  # the dense index choice collections created later get
        self._collections_lock = asyncio.Lock()
        self._token = token
        self._opts: dict[str, Any] = {"timeout": RPC_TIMEOUT_S, "retry_times": 1 if self.is_lite else 5}
        self._client: MilvusClient | None = None
        self._server: Any = None  # our reference to the shared milvus-lite child, if any
        self._closed = False
        self._open_lock = asyncio.Lock()
        self._executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="vecflow-milvus")

    def __repr__(self) -> str:
        return f"MilvusIndex(uri={self.uri!r}, dim={self.dim}, index_type={self.index_type!r})"

    async def __aenter__(self) -> MilvusIndex:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # lifecycle ----------------------------------------------------------------------------------

    async def open(self) -> None:
        """Connect (starting milvus-lite if needed), create missing collections and load them.

        Also the recovery path: if the milvus-lite child died, the next call restarts it and reconnects.
        """
        async with self._open_lock:
            if self._closed:
                raise VectorIndexError("the Milvus index is closed", reason="UNAVAILABLE")
            if self._client is not None and self._healthy():
                return
            stale, self._client = self._client, None
            self._client = await self._run(self._open_sync, stale)

    async def close(self) -> None:
        """Disconnect and, when this was the last index on a milvus-lite file, stop its child process."""
        async with self._open_lock:
            if self._closed:
                return
            self._closed = True
            client, self._client = self._client, None
            try:
                await self._run(self._close_sync, client)
            finally:
                self._executor.shutdown(wait=False)

    async def _run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(fn, *args, **kwargs))

    async def _ready(self) -> MilvusClient:
        if self._client is None or not self._healthy():
            await self.open()
        assert self._client is not None
        return self._client

    def _healthy(self) -> bool:
        """False once our milvus-lite child has exited (a server connection heals by itself)."""
        return self._server is None or alive(self._server)

    def _open_sync(self, stale: MilvusClient | None) -> MilvusClient:
        pm = load_pymilvus()
        close_client(stale)
        first = self._server is None
        try:
            if self._db is not None:
                if self._server is None:
                    self._db.parent.mkdir(parents=True, exist_ok=True)
                    self._server = acquire_lite(self._db)
                elif not alive(self._server):
                    self._server = revive_lite(self._db, self._server)
                uri, token = self._server.uds_path, ""
            else:
                uri, token = self.uri, self._token
            client = pm.MilvusClient(
                uri=uri, token=token, alias=f"vecflow-{uuid.uuid4().hex}", timeout=CONNECT_TIMEOUT_S
            )
            try:
                choice = choose(client, self.requested_index, self._opts)
                dense = ensure_collections(client, pm, self.dim, choice, self._opts)
            except BaseException:
                close_client(client)
                raise
            self._choice, self._states = choice, dict(dense)  # other analyzers' collections open again on use
            self._dense = {name: state.index_type for name, state in dense.items()}
            self.index_type, self.index_reason = dense[CHUNKS_COLLECTION].index_type, dense[CHUNKS_COLLECTION].reason
            log.info(
                "Milvus dense index: %s (%s)",
                self.index_type,
                self.index_reason,
                extra={"milvus_uri": self.uri, "dense_indexes": self._dense},
            )
            return client
        except Exception as exc:
            if first:
                self._release_server()
            raise wrap(exc, f"opening Milvus at {self.uri}", reason="UNAVAILABLE") from exc

    def _close_sync(self, client: MilvusClient | None) -> None:
        close_client(client)
        self._release_server()

    def _release_server(self) -> None:
        if self._server is not None and self._db is not None:
            self._server = None
            release_lite(self._db)

    # collections --------------------------------------------------------------------------------

    async def _collection(self, base: str, analyzer: str) -> tuple[MilvusClient, str]:
        """The client and the collection of `base` for `analyzer`, created or loaded on first use."""
        name = collection_for(base, analyzer)
        client = await self._ready()
        if name not in self._states:
            async with self._collections_lock:
                if name not in self._states:
                    await self._run(self._ensure_sync, client, base, analyzer)
        return client, name

    def _ensure_sync(self, client: MilvusClient, base: str, analyzer: str) -> None:
        name = collection_for(base, analyzer)
        try:
            state = ensure_collection(client, load_pymilvus(), base, analyzer, self.dim, self._choice, self._opts)
        except Exception as exc:
            raise wrap(exc, f"opening collection {name}") from exc
        self._dense[name] = state.index_type
        self._states[name] = state
        log.info("Milvus collection %s opened (%s analyzer)", name, analyzer, extra={"milvus_uri": self.uri})

    async def _every_chunks_collection(self) -> tuple[MilvusClient, list[str]]:
        """The client and every chunks collection there is (any analyzer, made by any replica), opened."""
        client = await self._ready()
        try:
            names = await self._run(client.list_collections, **self._opts)
        except Exception as exc:
            raise wrap(exc, "listing the Milvus collections") from exc
        found = []
        for name in sorted(names):
            analyzer = analyzer_of(CHUNKS_COLLECTION, name)
            if analyzer is not None:
                found.append((await self._collection(CHUNKS_COLLECTION, analyzer))[1])
        return client, found

    async def _chunk_targets(self, analyzer: str | None) -> tuple[MilvusClient, list[str]]:
        if analyzer is None:
            return await self._every_chunks_collection()
        client, name = await self._collection(CHUNKS_COLLECTION, analyzer)
        return client, [name]

    def _has_section(self, name: str) -> bool:
        state = self._states.get(name)
        return state is None or "section" not in state.missing

    async def has_sections(self, analyzer: str = DEFAULT_ANALYZER) -> bool:
        """Whether the chunks collection of `analyzer` has the section field (one created before sections has not)."""
        _, name = await self._collection(CHUNKS_COLLECTION, analyzer)
        return self._has_section(name)

    # chunks -------------------------------------------------------------------------------------

    async def upsert_chunks(self, rows: Sequence[Mapping[str, Any]], *, analyzer: str = DEFAULT_ANALYZER) -> int:
        """Insert or replace chunks by pk; returns how many distinct rows were written."""
        client, name = await self._collection(CHUNKS_COLLECTION, analyzer)
        prepare = functools.partial(chunk_row, section=self._has_section(name))
        return await self._run(self._upsert_sync, client, name, rows, prepare)

    async def set_file_attributes(
        self,
        project_id: str,
        vector_store_id: str,
        file_id: str,
        attributes: Mapping[str, Any] | None,
        *,
        analyzer: str = DEFAULT_ANALYZER,
    ) -> int:
        """Give every chunk of a file new attributes, keeping its text and vector (nothing is embedded);
        returns how many chunks were rewritten."""
        expr = scope(project_id=project_id, vector_store_id=vector_store_id, file_id=file_id)
        client, name = await self._collection(CHUNKS_COLLECTION, analyzer)
        fields = sorted(CHUNK_KEYS - {"attributes"} - ({"section"} if not self._has_section(name) else set()))
        value = json_value(attributes, "attributes")
        return await self._run(self._set_attributes_sync, client, name, fields, expr, value)

    def _set_attributes_sync(
        self, client: MilvusClient, collection: str, fields: list[str], expr: str, attributes: Any
    ) -> int:
        rewritten = 0
        try:  # pages in pk order, each rewritten before the next is read (pk > last: a rewrite is not seen again)
            pages = client.query_iterator(
                collection, batch_size=ATTRIBUTE_PAGE_ROWS, filter=expr, output_fields=fields, **self._opts
            )
        except Exception as exc:
            raise wrap(exc, f"reading chunks of {collection}") from exc
        try:
            while True:
                try:
                    rows = pages.next()
                except Exception as exc:
                    raise wrap(exc, f"reading chunks of {collection}") from exc
                if not rows:
                    return rewritten
                batch = [
                    {
                        **{k: row.get(k) for k in fields},
                        "dense": [float(x) for x in row["dense"]],
                        "attributes": attributes,
                    }
                    for row in rows
                ]
                self._upsert_batch(client, collection, batch)
                rewritten += len(batch)
        finally:
            pages.close()

    async def delete_file(
        self, project_id: str, vector_store_id: str, file_id: str, *, analyzer: str | None = DEFAULT_ANALYZER
    ) -> None:
        """Delete a file's chunks (from every chunks collection when `analyzer` is None)."""
        expr = scope(project_id=project_id, vector_store_id=vector_store_id, file_id=file_id)
        client, names = await self._chunk_targets(analyzer)
        for name in names:
            await self._run(self._delete_sync, client, name, [expr])

    async def delete_files(
        self, project_id: str, vector_store_id: str, file_ids: Sequence[str], *, analyzer: str | None = DEFAULT_ANALYZER
    ) -> None:
        """Delete the chunks of several files of one store, DELETE_BATCH files per expression (from every chunks
        collection when `analyzer` is None)."""
        exprs = members(scope(project_id=project_id, vector_store_id=vector_store_id), "file_id", file_ids)
        if exprs:
            client, names = await self._chunk_targets(analyzer)
            for name in names:
                await self._run(self._delete_sync, client, name, exprs)

    async def delete_chunks(
        self, project_id: str, vector_store_id: str, pks: Sequence[str], *, analyzer: str = DEFAULT_ANALYZER
    ) -> None:
        """Delete chunks of one store by pk (see `chunk_pk`), DELETE_BATCH at a time."""
        exprs = members(scope(project_id=project_id, vector_store_id=vector_store_id), "pk", pks)
        if exprs:
            client, name = await self._collection(CHUNKS_COLLECTION, analyzer)
            await self._run(self._delete_sync, client, name, exprs)

    async def delete_vector_store(
        self, project_id: str, vector_store_id: str, *, analyzer: str | None = DEFAULT_ANALYZER
    ) -> None:
        """Delete a store's chunks (from every chunks collection when `analyzer` is None)."""
        expr = scope(project_id=project_id, vector_store_id=vector_store_id)
        client, names = await self._chunk_targets(analyzer)
        for name in names:
            await self._run(self._delete_sync, client, name, [expr])

    async def count_chunks(
        self, project_id: str, vector_store_id: str, file_id: str | None = None, *, analyzer: str = DEFAULT_ANALYZER
    ) -> int:
        tenant = {"project_id": project_id, "vector_store_id": vector_store_id}
        if file_id is not None:
            tenant["file_id"] = file_id
        client, name = await self._collection(CHUNKS_COLLECTION, analyzer)
        return await self._run(count_sync, client, self._opts, name, scope(**tenant))

    async def search_chunks(
        self,
        project_id: str,
        vector_store_id: str,
        *,
        dense: Sequence[float] | None,
        text: str | None,
        mode: SearchMode,
        limit: int,
        filter_expr: str = "",
        dense_weight: float = 0,
        keyword_weight: float = 0,
        analyzer: str = DEFAULT_ANALYZER,
    ) -> list[Hit]:
        """Search one store's chunks. Hybrid fuses dense and BM25 results with RRF (k=60), or with a
        weighted sum when both weights are > 0. Hit fields: text, file_id, file_name, chunk_index, page,
        char_start, char_end, attributes, section (not from a collection made before sections)."""
        _, name = await self._collection(CHUNKS_COLLECTION, analyzer)
        output = CHUNK_OUTPUT if self._has_section(name) else tuple(f for f in CHUNK_OUTPUT if f != "section")
        request = search_request(
            name,
            {"project_id": project_id, "vector_store_id": vector_store_id},
            output,
            self.dim,
            dense=dense,
            text=text,
            mode=mode,
            limit=limit,
            filter_expr=filter_expr,
            dense_weight=dense_weight,
            keyword_weight=keyword_weight,
        )
        return await self._search(request)

    # items --------------------------------------------------------------------------------------

    async def upsert_items(
        self, collection: ItemCollection, rows: Sequence[Mapping[str, Any]], *, analyzer: str = DEFAULT_ANALYZER
    ) -> int:
        """Insert or replace items by pk (default ``f"{project_id}:{object_id}"``); returns the row count."""
        client, name = await self._collection(item_collection(collection), analyzer)
        return await self._run(self._upsert_sync, client, name, rows, item_row)

    async def delete_items(
        self,
        collection: ItemCollection,
        project_id: str,
        object_ids: Sequence[str],
        *,
        analyzer: str = DEFAULT_ANALYZER,
    ) -> None:
        base = item_collection(collection)
        if isinstance(object_ids, str):
            raise invalid("object_ids must be a list of strings, not one string")
        exprs = members(scope(project_id=project_id), "object_id", list(dict.fromkeys(object_ids)))
        if not exprs:
            return
        client, name = await self._collection(base, analyzer)
        await self._run(self._delete_sync, client, name, exprs)

    async def count_items(
        self, collection: ItemCollection, project_id: str, *, analyzer: str = DEFAULT_ANALYZER
    ) -> int:
        client, name = await self._collection(item_collection(collection), analyzer)
        return await self._run(count_sync, client, self._opts, name, scope(project_id=project_id))

    async def search_items(
        self,
        collection: ItemCollection,
        project_id: str,
        *,
        dense: Sequence[float] | None,
        text: str | None,
        mode: SearchMode,
        limit: int,
        filter_expr: str = "",
        dense_weight: float = 0,
        keyword_weight: float = 0,
        analyzer: str = DEFAULT_ANALYZER,
    ) -> list[Hit]:
        """Search one project's items; like `search_chunks`. Hit fields: object_id, text, payload, item_info."""
        base = item_collection(collection)
        _, name = await self._collection(base, analyzer)
        request = search_request(
            name,
            {"project_id": project_id},
            ITEM_OUTPUT,
            self.dim,
            dense=dense,
            text=text,
            mode=mode,
            limit=limit,
            filter_expr=filter_expr,
            dense_weight=dense_weight,
            keyword_weight=keyword_weight,
        )
        return await self._search(request)

    # shared operations (run on the executor) ----------------------------------------------------

    async def _search(self, request: SearchRequest) -> list[Hit]:
        client = await self._ready()
        index_type = self._dense.get(request.collection, self.index_type)
        return await self._run(search_sync, client, self._opts, index_type, request)

    def _upsert_sync(
        self,
        client: MilvusClient,
        collection: str,
        rows: Sequence[Mapping[str, Any]],
        prepare: Callable[[Mapping[str, Any], int, int], tuple[dict[str, Any], int]],
    ) -> int:
        if isinstance(rows, Mapping):
            raise invalid("rows must be a list of dicts")
        prepared = dedupe([prepare(raw, pos, self.dim) for pos, raw in enumerate(rows)])
        batch: list[dict[str, Any]] = []
        size = 0
        for row, row_size in prepared:
            if batch and (len(batch) >= UPSERT_BATCH_ROWS or size + row_size > UPSERT_BATCH_BYTES):
                self._upsert_batch(client, collection, batch)
                batch, size = [], 0
            batch.append(row)
            size += row_size
        if batch:
            self._upsert_batch(client, collection, batch)
        return len(prepared)

    def _upsert_batch(self, client: MilvusClient, collection: str, batch: list[dict[str, Any]]) -> None:
        try:
            client.upsert(collection, batch, **self._opts)
        except Exception as exc:
            raise wrap(exc, f"upserting {len(batch)} rows into {collection}") from exc

    def _delete_sync(self, client: MilvusClient, collection: str, exprs: list[str]) -> None:
        for expr in exprs:
            try:
                client.delete(collection, filter=expr, **self._opts)
            except Exception as exc:
                raise wrap(exc, f"deleting from {collection}") from exc
