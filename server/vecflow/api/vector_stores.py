"""vecflow.v1.VectorStoreService handlers."""

from __future__ import annotations

import grpc

from vecflow.api import context as call
from vecflow.api import convert
from vecflow.api.common import idempotent, not_yet
from vecflow.errors import InvalidArgument
from vecflow.services.idempotency import IdempotencyService
from vecflow.services.vector_stores import VectorStoreService
from vecflow.v1 import vector_store_service_pb2 as pb
from vecflow.v1 import vector_store_service_pb2_grpc as rpc

Ctx = grpc.aio.ServicerContext


def _require_sources(parse_result_ids: list[str], file_ids: list[str]) -> None:
    if not parse_result_ids and not file_ids:
        raise InvalidArgument.field("parse_result_ids", "give at least one parse_result_id or file_id")


class VectorStoreServicer(rpc.VectorStoreServiceServicer):
    def __init__(self, stores: VectorStoreService, idempotency: IdempotencyService) -> None:
        self.stores = stores
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
                chunk_overlap=request.chunking_strategy.chunk_overlap_tokens,
                expires_after_days=request.expires_after.days if request.HasField("expires_after") else None,
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
            await self.stores.delete(call.principal(), request.vector_store_id)
            return pb.DeleteVectorStoreResponse(vector_store_id=request.vector_store_id)

        return await idempotent(self.idempotency, "DeleteVectorStore", request, pb.DeleteVectorStoreResponse, produce)

    async def AddFilesToVectorStore(
        self, request: pb.AddFilesToVectorStoreRequest, context: Ctx
    ) -> pb.AddFilesToVectorStoreResponse:
        await self.stores.require_store(call.principal(), request.vector_store_id)
        _require_sources(list(request.parse_result_ids), list(request.file_ids))
        raise not_yet("VectorStoreService/AddFilesToVectorStore", "document pipeline")

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

    async def DeleteVectorStoreFile(
        self, request: pb.DeleteVectorStoreFileRequest, context: Ctx
    ) -> pb.DeleteVectorStoreFileResponse:
        await self.stores.require_store_file(call.principal(), request.vector_store_id, request.file_id)
        raise not_yet("VectorStoreService/DeleteVectorStoreFile", "document pipeline")

    async def CreateFileBatch(self, request: pb.CreateFileBatchRequest, context: Ctx) -> pb.CreateFileBatchResponse:
        await self.stores.require_store(call.principal(), request.vector_store_id)
        _require_sources(list(request.parse_result_ids), list(request.file_ids))
        raise not_yet("VectorStoreService/CreateFileBatch", "document pipeline")

    async def GetFileBatch(self, request: pb.GetFileBatchRequest, context: Ctx) -> pb.GetFileBatchResponse:
        batch, counts = await self.stores.get_batch(call.principal(), request.vector_store_id, request.batch_id)
        return pb.GetFileBatchResponse(file_batch=convert.file_batch(batch, counts))

    async def CancelFileBatch(self, request: pb.CancelFileBatchRequest, context: Ctx) -> pb.CancelFileBatchResponse:
        await self.stores.require_batch(call.principal(), request.vector_store_id, request.batch_id)
        raise not_yet("VectorStoreService/CancelFileBatch", "document pipeline")

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
        await self.stores.require_store(call.principal(), request.vector_store_id)
        raise not_yet("VectorStoreService/SearchVectorStore", "search")
