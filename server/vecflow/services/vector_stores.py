"""Vector stores, their files and file batches (metadata side; ingestion comes with the pipeline)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from vecflow import validation as v
from vecflow.errors import InvalidArgument, NotFound
from vecflow.ids import new_id
from vecflow.pipeline.chunk import CHUNKING_MODES, DEFAULT_CHUNKING_MODE
from vecflow.services.auth import Principal
from vecflow.storage import models as m
from vecflow.storage import paging, store_files
from vecflow.storage import repositories as repo
from vecflow.storage import vector_stores as store_rows
from vecflow.storage.db import Database
from vecflow.storage.models import utcnow
from vecflow.vectors.milvus import ANALYZERS, DEFAULT_ANALYZER

DEFAULT_CHUNK_TOKENS = 256
DEFAULT_OVERLAP_TOKENS = 64
MAX_EXPIRY_DAYS = 3650
UPDATABLE = ("name", "metadata", "expires_after")


@dataclass(frozen=True)
class ChunkingLimits:
    """The largest chunk the embedding model can take, in tokens."""

    max_chunk_size_tokens: int = 256


def resolve_chunking(size: int, overlap: int | None, limits: ChunkingLimits) -> tuple[int, int]:
    """Apply defaults and check a chunking strategy; raises InvalidArgument naming the field."""
    size = size or min(DEFAULT_CHUNK_TOKENS, limits.max_chunk_size_tokens)
    if size < 16 or size > limits.max_chunk_size_tokens:
        raise InvalidArgument.field(
            "chunking_strategy.max_chunk_size_tokens",
            f"must be between 16 and {limits.max_chunk_size_tokens} (what the embedding model can embed), got {size}",
        )
    if overlap is None:
        overlap = min(DEFAULT_OVERLAP_TOKENS, size // 2)
    if overlap < 0 or overlap > size // 2:
        raise InvalidArgument.field(
            "chunking_strategy.chunk_overlap_tokens",
            f"must be between 0 and half of max_chunk_size_tokens ({size // 2}), got {overlap}",
        )
    return size, overlap


def resolve_mode(mode: str) -> str:
    """The chunking mode ("" means the default); INVALID_ARGUMENT naming chunking_strategy.mode otherwise."""
    mode = mode or DEFAULT_CHUNKING_MODE
    if mode not in CHUNKING_MODES:
        raise InvalidArgument.field(
            "chunking_strategy.mode", f"must be one of {', '.join(CHUNKING_MODES)}, got {mode!r}"
        )
    return mode


def resolve_analyzer(analyzer: str, field: str = "keyword_analyzer") -> str:
    """The keyword analyzer ("" means english); INVALID_ARGUMENT listing the choices otherwise."""
    analyzer = analyzer or DEFAULT_ANALYZER
    if analyzer not in ANALYZERS:
        raise InvalidArgument.field(field, f"must be one of {', '.join(ANALYZERS)}, got {analyzer[:64]!r}")
    return analyzer


def check_expiry(days: int | None) -> int | None:
    if days is None:
        return None
    if not 1 <= days <= MAX_EXPIRY_DAYS:
        raise InvalidArgument.field("expires_after.days", f"must be between 1 and {MAX_EXPIRY_DAYS}, got {days}")
    return days


LimitsProvider = Callable[[], Awaitable[ChunkingLimits]]


async def _fixed_limits() -> ChunkingLimits:
    return ChunkingLimits()


class VectorStoreService:
    def __init__(self, db: Database, embedding_model: str = "", limits: LimitsProvider | None = None) -> None:
        self.db = db
        self.embedding_model = embedding_model
        self.limits = limits or _fixed_limits

    async def create(
        self,
        caller: Principal,
        name: str,
        metadata: dict[str, Any] | None,
        chunk_size: int,
        chunk_overlap: int | None,
        expires_after_days: int | None,
        chunking_mode: str = "",
        keyword_analyzer: str = "",
    ) -> m.VectorStore:
        name = v.display_name("name", name)
        metadata = v.metadata("metadata", metadata)
        size, overlap = resolve_chunking(chunk_size, chunk_overlap, await self.limits())
        mode = resolve_mode(chunking_mode)
        analyzer = resolve_analyzer(keyword_analyzer)
        days = check_expiry(expires_after_days)
        now = utcnow()
        store = m.VectorStore(
            id=new_id("vector_store"),
            project_id=caller.project_id,
            name=name,
            metadata_=metadata,
            max_chunk_size_tokens=size,
            chunk_overlap_tokens=overlap,
            chunking_mode=mode,
            keyword_analyzer=analyzer,
            expires_after_days=days,
            expires_at=now + timedelta(days=days) if days else None,
            last_active_at=now,
            status="completed",
            embedding_model=self.embedding_model,
            on_behalf_of=caller.on_behalf_of,
            created_at=now,
            updated_at=now,
        )
        async with self.db.session() as s:
            s.add(store)
        return store

    async def get(self, caller: Principal, vector_store_id: str) -> tuple[m.VectorStore, dict[str, int]]:
        v.required("vector_store_id", vector_store_id)
        async with self.db.read_session() as s:
            store = await self.owned_store(s, caller, vector_store_id)
            return store, await repo.file_counts(s, store.id)

    async def list(
        self, caller: Principal, page_size: int, page_token: str
    ) -> tuple[list[tuple[m.VectorStore, dict[str, int]]], str]:
        size = paging.page_size(page_size)
        async with self.db.read_session() as s:
            rows, token = await store_rows.stores_page(s, caller.project_id, size, page_token)
            return [(row, await repo.file_counts(s, row.id)) for row in rows], token

    async def update(
        self,
        caller: Principal,
        vector_store_id: str,
        paths: Sequence[str],
        name: str,
        metadata: dict[str, Any] | None,
        expires_after_days: int | None,
    ) -> tuple[m.VectorStore, dict[str, int]]:
        v.required("vector_store_id", vector_store_id)
        if not paths:
            raise InvalidArgument.field("update_mask", f"must name at least one of {', '.join(UPDATABLE)}")
        unknown = [p for p in paths if p not in UPDATABLE]
        if unknown:
            raise InvalidArgument.field(
                "update_mask", f"cannot update {', '.join(unknown)}; updatable fields are {', '.join(UPDATABLE)}"
            )
        if "name" in paths:
            name = v.display_name("name", name)
        if "metadata" in paths:
            metadata = v.metadata("metadata", metadata)
        if "expires_after" in paths:
            expires_after_days = check_expiry(expires_after_days)
        async with self.db.session() as s:
            store = await self.owned_store(s, caller, vector_store_id)
            now = utcnow()
            if "name" in paths:
                store.name = name
            if "metadata" in paths:
                store.metadata_ = metadata
            if "expires_after" in paths:
                store.expires_after_days = expires_after_days
                store.expires_at = (
                    store.last_active_at + timedelta(days=expires_after_days) if expires_after_days else None
                )
            store.updated_at = now
            return store, await repo.file_counts(s, store.id)

    async def delete(self, caller: Principal, vector_store_id: str) -> None:
        v.required("vector_store_id", vector_store_id)
        async with self.db.session() as s:
            store = await self.owned_store(s, caller, vector_store_id)
            await s.delete(store)

    # Files and batches -------------------------------------------------------------------

    async def list_files(
        self, caller: Principal, vector_store_id: str, status: str, batch_id: str, page_size: int, page_token: str
    ) -> tuple[Sequence[m.VectorStoreFile], str]:
        v.required("vector_store_id", vector_store_id)
        size = paging.page_size(page_size)
        async with self.db.read_session() as s:
            store = await self.owned_store(s, caller, vector_store_id)
            if batch_id:
                await self.owned_batch(s, caller, store.id, batch_id)
            return await store_files.files_page(s, store.id, batch_id, status, size, page_token)

    async def get_file(self, caller: Principal, vector_store_id: str, file_id: str) -> m.VectorStoreFile:
        v.required("vector_store_id", vector_store_id)
        v.required("file_id", file_id)
        async with self.db.read_session() as s:
            return await self.owned_store_file(s, caller, vector_store_id, file_id)

    async def get_batch(
        self, caller: Principal, vector_store_id: str, batch_id: str
    ) -> tuple[m.FileBatch, dict[str, int]]:
        v.required("vector_store_id", vector_store_id)
        v.required("batch_id", batch_id)
        async with self.db.read_session() as s:
            batch = await self.owned_batch(s, caller, vector_store_id, batch_id)
            return batch, await repo.file_counts(s, vector_store_id, batch.id)

    # Ownership checks (shared with RPCs whose behaviour lands later) ------------------------

    async def owned_store(self, s: Any, caller: Principal, vector_store_id: str) -> m.VectorStore:
        store = await repo.get_owned(s, m.VectorStore, caller.project_id, vector_store_id)
        if store is None:
            raise NotFound.resource("vector store", vector_store_id)
        return store

    async def owned_store_file(
        self, s: Any, caller: Principal, vector_store_id: str, file_id: str
    ) -> m.VectorStoreFile:
        await self.owned_store(s, caller, vector_store_id)
        row = await s.get(m.VectorStoreFile, (vector_store_id, file_id))
        if row is None or row.project_id != caller.project_id:
            raise NotFound.resource("vector store file", file_id)
        return row

    async def owned_batch(self, s: Any, caller: Principal, vector_store_id: str, batch_id: str) -> m.FileBatch:
        await self.owned_store(s, caller, vector_store_id)
        batch = await repo.get_owned(s, m.FileBatch, caller.project_id, batch_id)
        if batch is None or batch.vector_store_id != vector_store_id:
            raise NotFound.resource("file batch", batch_id)
        return batch

    async def require_store(self, caller: Principal, vector_store_id: str) -> m.VectorStore:
        v.required("vector_store_id", vector_store_id)
        async with self.db.read_session() as s:
            return await self.owned_store(s, caller, vector_store_id)

    async def require_store_file(self, caller: Principal, vector_store_id: str, file_id: str) -> m.VectorStoreFile:
        v.required("vector_store_id", vector_store_id)
        v.required("file_id", file_id)
        async with self.db.read_session() as s:
            return await self.owned_store_file(s, caller, vector_store_id, file_id)

    async def require_batch(self, caller: Principal, vector_store_id: str, batch_id: str) -> m.FileBatch:
        v.required("vector_store_id", vector_store_id)
        v.required("batch_id", batch_id)
        async with self.db.read_session() as s:
            return await self.owned_batch(s, caller, vector_store_id, batch_id)
