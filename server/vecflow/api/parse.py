"""vecflow.v1.ParseService handlers."""

from __future__ import annotations

import grpc

from vecflow.api import context as call
from vecflow.api import convert
from vecflow.api.common import not_yet
from vecflow.services.parse import ParseResultService
from vecflow.v1 import parse_service_pb2 as pb
from vecflow.v1 import parse_service_pb2_grpc as rpc

Ctx = grpc.aio.ServicerContext


class ParseServicer(rpc.ParseServiceServicer):
    def __init__(self, results: ParseResultService) -> None:
        self.results = results

    async def ParseFile(self, request: pb.ParseFileRequest, context: Ctx) -> pb.ParseFileResponse:
        await self.results.require_file(call.principal(), request.file_id)
        raise not_yet("ParseService/ParseFile", "document pipeline")

    async def GetParseResult(self, request: pb.GetParseResultRequest, context: Ctx) -> pb.GetParseResultResponse:
        row = await self.results.get(call.principal(), request.parse_result_id)
        return pb.GetParseResultResponse(parse_result=convert.parse_result(row))

    async def ExtractParseResult(
        self, request: pb.ExtractParseResultRequest, context: Ctx
    ) -> pb.ExtractParseResultResponse:
        await self.results.get(call.principal(), request.parse_result_id)
        raise not_yet("ParseService/ExtractParseResult", "document pipeline")

    async def ChunkParseResult(self, request: pb.ChunkParseResultRequest, context: Ctx) -> pb.ChunkParseResultResponse:
        await self.results.get(call.principal(), request.parse_result_id)
        raise not_yet("ParseService/ChunkParseResult", "document pipeline")
