"""vecflow.v1.KnowledgeBaseService handlers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TypeAlias

import grpc
from vecflow_client.v1 import knowledge_base_service_pb2 as pb
from vecflow_client.v1 import knowledge_base_service_pb2_grpc as rpc

from vecflow import validation
from vecflow.api import context as call
from vecflow.api import convert
from vecflow.api.common import idempotent
from vecflow.errors import InvalidArgument
from vecflow.services.documents import DocumentService, UploadSpec
from vecflow.services.idempotency import IdempotencyService
from vecflow.services.knowledge_bases import KnowledgeBaseService

Ctx: TypeAlias = grpc.aio.ServicerContext


UPLOAD_OUTCOMES = {
    "created": pb.UPLOAD_OUTCOME_CREATED,
    "replaced": pb.UPLOAD_OUTCOME_REPLACED,
    "unchanged": pb.UPLOAD_OUTCOME_UNCHANGED,
}


class KnowledgeBaseServicer(rpc.KnowledgeBaseServiceServicer):
    def __init__(self, kbs: KnowledgeBaseService, documents: DocumentService, idempotency: IdempotencyService) -> None:
        self.kbs = kbs
        self.documents = documents
        self.idempotency = idempotency

    async def CreateKnowledgeBase(
        self, request: pb.CreateKnowledgeBaseRequest, context: Ctx
    ) -> pb.CreateKnowledgeBaseResponse:
        async def produce() -> pb.CreateKnowledgeBaseResponse:
            kb = await self.kbs.create(
                call.principal(),
                name=request.name,
                description=request.description,
                metadata=convert.from_struct(request.metadata, request.HasField("metadata")),
                auto_parse=request.auto_parse if request.HasField("auto_parse") else True,
                ocr=convert.ocr_mode_word(request.ocr, "ocr") or "auto",
            )
            return pb.CreateKnowledgeBaseResponse(knowledge_base=convert.knowledge_base(kb))

        return await idempotent(
            self.idempotency, "CreateKnowledgeBase", request, pb.CreateKnowledgeBaseResponse, produce
        )

    async def GetKnowledgeBase(self, request: pb.GetKnowledgeBaseRequest, context: Ctx) -> pb.GetKnowledgeBaseResponse:
        kb = await self.kbs.get(call.principal(), request.kb_id)
        return pb.GetKnowledgeBaseResponse(knowledge_base=convert.knowledge_base(kb))

    async def ListKnowledgeBases(
        self, request: pb.ListKnowledgeBasesRequest, context: Ctx
    ) -> pb.ListKnowledgeBasesResponse:
        rows, token = await self.kbs.list(call.principal(), request.page_size, request.page_token)
        return pb.ListKnowledgeBasesResponse(
            knowledge_bases=[convert.knowledge_base(r) for r in rows], next_page_token=token
        )

    async def DeleteKnowledgeBase(
        self, request: pb.DeleteKnowledgeBaseRequest, context: Ctx
    ) -> pb.DeleteKnowledgeBaseResponse:
        async def produce() -> pb.DeleteKnowledgeBaseResponse:
            await self.kbs.delete(call.principal(), request.kb_id)
            return pb.DeleteKnowledgeBaseResponse(kb_id=request.kb_id)

        return await idempotent(
            self.idempotency, "DeleteKnowledgeBase", request, pb.DeleteKnowledgeBaseResponse, produce
        )

    async def UploadFile(
        self, request_iterator: AsyncIterator[pb.UploadFileRequest], context: Ctx
    ) -> pb.UploadFileResponse:
        messages = aiter(request_iterator)
        first = await anext(messages, None)
        if first is None or not first.HasField("metadata"):
            raise InvalidArgument.field("metadata", "the first message of an upload must carry metadata")
        meta = first.metadata
        spec = UploadSpec(
            kb_id=meta.kb_id,
            name=meta.name,
            directory=meta.directory,
            metadata=convert.from_struct(meta.metadata, meta.HasField("metadata")),
            parse=meta.parse if meta.HasField("parse") else None,
            url=meta.url,
            content_type=meta.content_type,
            sha256=meta.sha256,
            replace=meta.if_exists == pb.IF_EXISTS_REPLACE,
            ocr=convert.ocr_mode_word(meta.ocr, "metadata.ocr"),
        )
        principal = call.principal()
        checked = await self.documents.check_upload(principal, spec)  # fail fast, before reading content
        second = await anext(messages, None)
        content = None
        if second is not None:
            if not second.HasField("chunk") and second.HasField("metadata"):
                raise InvalidArgument.field("metadata", "only the first message may carry metadata")

            async def chunks() -> AsyncIterator[bytes]:
                yield second.chunk
                async for message in messages:
                    if message.HasField("metadata"):
                        raise InvalidArgument.field("metadata", "only the first message may carry metadata")
                    yield message.chunk

            content = chunks()

        async def produce() -> pb.UploadFileResponse:
            row, job, outcome = await self.documents.upload(principal, checked, content)
            reply = pb.UploadFileResponse(file=convert.file(row), outcome=UPLOAD_OUTCOMES[outcome])
            if job is not None:
                reply.parse_job.CopyFrom(convert.job(job))
            return reply

        request_id = validation.request_id(meta.request_id)
        if not request_id or content is not None:
            # Streamed content cannot be replayed cheaply; its request_id still guards URL uploads.
            return await produce()
        return await idempotent(self.idempotency, "UploadFile", meta, pb.UploadFileResponse, produce)

    async def GetFile(self, request: pb.GetFileRequest, context: Ctx) -> pb.GetFileResponse:
        row = await self.kbs.get_file(call.principal(), request.file_id)
        return pb.GetFileResponse(file=convert.file(row))

    async def ListFiles(self, request: pb.ListFilesRequest, context: Ctx) -> pb.ListFilesResponse:
        rows, token = await self.kbs.list_files(
            call.principal(),
            request.kb_id,
            request.directory,
            request.recursive,
            convert.PARSE_STATE.word(request.parse_state),
            request.page_size,
            request.page_token,
        )
        return pb.ListFilesResponse(files=[convert.file(r) for r in rows], next_page_token=token)

    async def DeleteFile(self, request: pb.DeleteFileRequest, context: Ctx) -> pb.DeleteFileResponse:
        async def produce() -> pb.DeleteFileResponse:
            await self.kbs.delete_file(call.principal(), request.file_id)
            return pb.DeleteFileResponse(file_id=request.file_id)

        return await idempotent(self.idempotency, "DeleteFile", request, pb.DeleteFileResponse, produce)

    async def CreateDirectory(self, request: pb.CreateDirectoryRequest, context: Ctx) -> pb.CreateDirectoryResponse:
        async def produce() -> pb.CreateDirectoryResponse:
            row = await self.kbs.create_directory(call.principal(), request.kb_id, request.path, request.create_parents)
            return pb.CreateDirectoryResponse(directory=convert.directory(row))

        return await idempotent(self.idempotency, "CreateDirectory", request, pb.CreateDirectoryResponse, produce)

    async def ListDirectories(self, request: pb.ListDirectoriesRequest, context: Ctx) -> pb.ListDirectoriesResponse:
        rows, token = await self.kbs.list_directories(
            call.principal(), request.kb_id, request.parent, request.page_size, request.page_token
        )
        return pb.ListDirectoriesResponse(directories=[convert.directory(r) for r in rows], next_page_token=token)

    async def DeleteDirectory(self, request: pb.DeleteDirectoryRequest, context: Ctx) -> pb.DeleteDirectoryResponse:
        async def produce() -> pb.DeleteDirectoryResponse:
            files, dirs = await self.kbs.delete_directory(
                call.principal(), request.kb_id, request.path, request.recursive
            )
            return pb.DeleteDirectoryResponse(deleted_files=files, deleted_directories=dirs)

        return await idempotent(self.idempotency, "DeleteDirectory", request, pb.DeleteDirectoryResponse, produce)
