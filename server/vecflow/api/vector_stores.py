"""vecflow.v1.VectorStoreService handlers."""

from __future__ import annotations

from typing import TypeAlias

import grpc
from vecflow_client.v1 import vector_store_service_pb2 as pb
from vecflow_client.v1 import vector_store_service_pb2_grpc as rpc

from vecflow.api import context as call
from vecflow.api import convert
from vecflow.api.common import idempotent
from vecflow.errors import InvalidArgument
from vecflow.services.idempotency import IdempotencyService
from vecflow.services.indexing import IndexingService
from vecflow.services.vector_stores import VectorStoreService

Ctx: TypeAlias = grpc.aio.ServicerContext


class VectorStoreServicer(rpc.VectorStoreServiceServicer):
    def __init__(self, stores: VectorStoreService, indexing: IndexingService, idempotency: IdempotencyService) -> None:
        self.stores = stores
        self.indexing = indexing
        self.idempotency = idempotency

    async def CreateVectorStore(
        self, request: pb.CreateVectorStoreRequest, context: Ctx
    ) -> pb.CreateVectorStoreResponse:
        async def produce() -> pb.CreateVectorStoreResponse:
            store = await self.stores.create(
                call.principal(),
                name=request.name,
                metadata=convert.from_struct(request.metadata, request.HasField("metadata")),
                chunk_size=request.chunking_strategy.max_chunk_size_tokens,
                chunk_overlap=(
                    request.chunking_strategy.chunk_overlap_tokens
                    if request.chunking_strategy.HasField("chunk_overlap_tokens")
                    else None
                ),
                expires_after_days=request.expires_after.days if request.HasField("expires_after") else None,
                chunking_mode=convert.chunking_mode_word(request.chunking_strategy.mode),
                keyword_analyzer=request.keyword_analyzer,
            )
            return pb.CreateVectorStoreResponse(vector_store=convert.vector_store(store, {}))

        return await idempotent(self.idempotency, "CreateVectorStore", request, pb.CreateVectorStoreResponse, produce)

    async def GetVectorStore(self, request: pb.GetVectorStoreRequest, context: Ctx) -> pb.GetVectorStoreResponse:
        store, counts = await self.stores.get(call.principal(), request.vector_store_id)
        return pb.GetVectorStoreResponse(vector_store=convert.vector_store(store, counts))

    async def ListVectorStores(self, request: pb.ListVectorStoresRequest, context: Ctx) -> pb.ListVectorStoresResponse:
        rows, token = await self.stores.list(call.principal(), request.page_size, request.page_token)
        return pb.ListVectorStoresResponse(
            vector_stores=[convert.vector_store(s, c) for s, c in rows], next_page_token=token
        )

    async def UpdateVectorStore(
        self, request: pb.UpdateVectorStoreRequest, context: Ctx
    ) -> pb.UpdateVectorStoreResponse:
        async def produce() -> pb.UpdateVectorStoreResponse:
            store, counts = await self.stores.update(
                call.principal(),
                request.vector_store_id,
                list(request.update_mask.paths),
                name=request.name,
                metadata=convert.from_struct(request.metadata, request.HasField("metadata")),
                expires_after_days=request.expires_after.days if request.HasField("expires_after") else None,
            )
            return pb.UpdateVectorStoreResponse(vector_store=convert.vector_store(store, counts))

        return await idempotent(self.idempotency, "UpdateVectorStore", request, pb.UpdateVectorStoreResponse, produce)

    async def DeleteVectorStore(
        self, request: pb.DeleteVectorStoreRequest, context: Ctx
    ) -> pb.DeleteVectorStoreResponse:
        async def produce() -> pb.DeleteVectorStoreResponse:
            await self.indexing.delete_store(call.principal(), request.vector_store_id)
            return pb.DeleteVectorStoreResponse(vector_store_id=request.vector_store_id)

        return await idempotent(self.idempotency, "DeleteVectorStore", request, pb.DeleteVectorStoreResponse, produce)

    async def AddFilesToVectorStore(
        self, request: pb.AddFilesToVectorStoreRequest, context: Ctx
    ) -> pb.AddFilesToVectorStoreResponse:
        async def produce() -> pb.AddFilesToVectorStoreResponse:
            job, _ = await self.indexing.add_files(
                call.principal(),
                request.vector_store_id,
                list(request.parse_result_ids),
                list(request.file_ids),
                convert.from_struct(request.attributes, request.HasField("attributes"), "attributes"),
                batch=False,
            )
            return pb.AddFilesToVectorStoreResponse(job=convert.job(job))

        return await idempotent(
            self.idempotency, "AddFilesToVectorStore", request, pb.AddFilesToVectorStoreResponse, produce
        )

    async def ListVectorStoreFiles(
        self, request: pb.ListVectorStoreFilesRequest, context: Ctx
    ) -> pb.ListVectorStoreFilesResponse:
        rows, token = await self.stores.list_files(
            call.principal(),
            request.vector_store_id,
            convert.VS_FILE_STATUS.word(request.status),
            "",
            request.page_size,
            request.page_token,
        )
        return pb.ListVectorStoreFilesResponse(
            files=[convert.vector_store_file(r) for r in rows], next_page_token=token
        )

    async def GetVectorStoreFile(
        self, request: pb.GetVectorStoreFileRequest, context: Ctx
    ) -> pb.GetVectorStoreFileResponse:
        row = await self.stores.get_file(call.principal(), request.vector_store_id, request.file_id)
        return pb.GetVectorStoreFileResponse(file=convert.vector_store_file(row))

    async def UpdateVectorStoreFile(
        self, request: pb.UpdateVectorStoreFileRequest, context: Ctx
    ) -> pb.UpdateVectorStoreFileResponse:
        async def produce() -> pb.UpdateVectorStoreFileResponse:
            row = await self.indexing.update_file(
                call.principal(),
                request.vector_store_id,
                request.file_id,
                list(request.update_mask.paths),
                convert.from_struct(request.attributes, request.HasField("attributes"), "attributes"),
            )
            return pb.UpdateVectorStoreFileResponse(file=convert.vector_store_file(row))

        return await idempotent(
            self.idempotency, "UpdateVectorStoreFile", request, pb.UpdateVectorStoreFileResponse, produce
        )

    async def DeleteVectorStoreFile(
        self, request: pb.DeleteVectorStoreFileRequest, context: Ctx
    ) -> pb.DeleteVectorStoreFileResponse:
        async def produce() -> pb.DeleteVectorStoreFileResponse:
            await self.indexing.remove_file(call.principal(), request.vector_store_id, request.file_id)
            return pb.DeleteVectorStoreFileResponse(file_id=request.file_id)

        return await idempotent(
            self.idempotency, "DeleteVectorStoreFile", request, pb.DeleteVectorStoreFileResponse, produce
        )

    async def CreateFileBatch(self, request: pb.CreateFileBatchRequest, context: Ctx) -> pb.CreateFileBatchResponse:
        async def produce() -> pb.CreateFileBatchResponse:
            principal = call.principal()
            _, batch = await self.indexing.add_files(
                principal,
                request.vector_store_id,
                list(request.parse_result_ids),
                list(request.file_ids),
                convert.from_struct(request.attributes, request.HasField("attributes"), "attributes"),
                batch=True,
            )
            assert batch is not None
            row, counts = await self.stores.get_batch(principal, request.vector_store_id, batch.id)
            return pb.CreateFileBatchResponse(file_batch=convert.file_batch(row, counts))

        return await idempotent(self.idempotency, "CreateFileBatch", request, pb.CreateFileBatchResponse, produce)

    async def GetFileBatch(self, request: pb.GetFileBatchRequest, context: Ctx) -> pb.GetFileBatchResponse:
        batch, counts = await self.stores.get_batch(call.principal(), request.vector_store_id, request.batch_id)
        return pb.GetFileBatchResponse(file_batch=convert.file_batch(batch, counts))

    async def CancelFileBatch(self, request: pb.CancelFileBatchRequest, context: Ctx) -> pb.CancelFileBatchResponse:
        async def produce() -> pb.CancelFileBatchResponse:
            principal = call.principal()
            await self.indexing.cancel_batch(principal, request.vector_store_id, request.batch_id)
            row, counts = await self.stores.get_batch(principal, request.vector_store_id, request.batch_id)
            return pb.CancelFileBatchResponse(file_batch=convert.file_batch(row, counts))

        return await idempotent(self.idempotency, "CancelFileBatch", request, pb.CancelFileBatchResponse, produce)

    async def ListFileBatchFiles(
        self, request: pb.ListFileBatchFilesRequest, context: Ctx
    ) -> pb.ListFileBatchFilesResponse:
        if not request.batch_id:
            raise InvalidArgument.field("batch_id", "is required")
        rows, token = await self.stores.list_files(
            call.principal(),
            request.vector_store_id,
            convert.VS_FILE_STATUS.word(request.status),
            request.batch_id,
            request.page_size,
            request.page_token,
        )
        return pb.ListFileBatchFilesResponse(files=[convert.vector_store_file(r) for r in rows], next_page_token=token)

    async def SearchVectorStore(
        self, request: pb.SearchVectorStoreRequest, context: Ctx
    ) -> pb.SearchVectorStoreResponse:
        ranking = request.ranking_options
        hits = await self.indexing.search(
            call.principal(),
            request.vector_store_id,
            request.query,
            request.max_num_results,
            request.filter,
            convert.RANKING_MODE.word(ranking.mode) or "hybrid",
            ranking.score_threshold,
            ranking.dense_weight,
            ranking.keyword_weight,
        )
        return pb.SearchVectorStoreResponse(hits=[convert.chunk_hit(h) for h in hits])
