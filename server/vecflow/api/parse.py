"""vecflow.v1.ParseService handlers."""

from __future__ import annotations

from typing import TypeAlias

import grpc
from vecflow_client.v1 import parse_service_pb2 as pb
from vecflow_client.v1 import parse_service_pb2_grpc as rpc

from vecflow.api import context as call
from vecflow.api import convert
from vecflow.api.common import idempotent
from vecflow.services.documents import DocumentService
from vecflow.services.idempotency import IdempotencyService
from vecflow.services.parse import ParseResultService

Ctx: TypeAlias = grpc.aio.ServicerContext


class ParseServicer(rpc.ParseServiceServicer):
    def __init__(
        self, results: ParseResultService, documents: DocumentService, idempotency: IdempotencyService
    ) -> None:
        self.results = results
        self.documents = documents
        self.idempotency = idempotency

    async def ParseFile(self, request: pb.ParseFileRequest, context: Ctx) -> pb.ParseFileResponse:
        async def produce() -> pb.ParseFileResponse:
            job = await self.documents.start_parse(
                call.principal(),
                request.file_id,
                request.options.content_type,
                ocr=convert.ocr_mode_word(request.options.ocr, "options.ocr"),
            )
            return pb.ParseFileResponse(job=convert.job(job))

        return await idempotent(self.idempotency, "ParseFile", request, pb.ParseFileResponse, produce)

    async def GetParseResult(self, request: pb.GetParseResultRequest, context: Ctx) -> pb.GetParseResultResponse:
        row = await self.results.get(call.principal(), request.parse_result_id)
        return pb.GetParseResultResponse(parse_result=convert.parse_result(row))

    async def ExtractParseResult(
        self, request: pb.ExtractParseResultRequest, context: Ctx
    ) -> pb.ExtractParseResultResponse:
        async def produce() -> pb.ExtractParseResultResponse:
            job = await self.documents.start_extract(call.principal(), request.parse_result_id)
            return pb.ExtractParseResultResponse(job=convert.job(job))

        return await idempotent(self.idempotency, "ExtractParseResult", request, pb.ExtractParseResultResponse, produce)

    async def ChunkParseResult(self, request: pb.ChunkParseResultRequest, context: Ctx) -> pb.ChunkParseResultResponse:
        async def produce() -> pb.ChunkParseResultResponse:
            strategy = request.chunking_strategy
            job = await self.documents.start_chunk(
                call.principal(),
                request.parse_result_id,
                strategy.max_chunk_size_tokens,
                strategy.chunk_overlap_tokens if strategy.HasField("chunk_overlap_tokens") else None,
                request.preview_chunks,
                convert.chunking_mode_word(strategy.mode),
            )
            return pb.ChunkParseResultResponse(job=convert.job(job))

        return await idempotent(self.idempotency, "ChunkParseResult", request, pb.ChunkParseResultResponse, produce)
