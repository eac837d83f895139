"""vecflow.v1.UpsertionTaskService handlers."""

from __future__ import annotations

import grpc

from vecflow.api import context as call
from vecflow.api import convert
from vecflow.api.common import not_yet
from vecflow.errors import InvalidArgument
from vecflow.services.upsertion_tasks import UpsertionTaskService
from vecflow.v1 import upsertion_task_service_pb2 as pb
from vecflow.v1 import upsertion_task_service_pb2_grpc as rpc

Ctx = grpc.aio.ServicerContext


class UpsertionTaskServicer(rpc.UpsertionTaskServiceServicer):
    def __init__(self, tasks: UpsertionTaskService) -> None:
        self.tasks = tasks

    async def CreateUpsertionTask(
        self, request: pb.CreateUpsertionTaskRequest, context: Ctx
    ) -> pb.CreateUpsertionTaskResponse:
        call.principal()
        if not request.items:
            raise InvalidArgument.field("items", "give at least one item")
        raise not_yet("UpsertionTaskService/CreateUpsertionTask", "upsertion tasks")

    async def GetUpsertionTask(self, request: pb.GetUpsertionTaskRequest, context: Ctx) -> pb.GetUpsertionTaskResponse:
        task, failed = await self.tasks.get(call.principal(), request.task_id)
        return pb.GetUpsertionTaskResponse(upsertion_task=convert.upsertion_task(task, failed))

    async def ListUpsertionTasks(
        self, request: pb.ListUpsertionTasksRequest, context: Ctx
    ) -> pb.ListUpsertionTasksResponse:
        rows, total = await self.tasks.list(
            call.principal(), request.offset, request.limit, convert.TASK_STATUS.word(request.status)
        )
        return pb.ListUpsertionTasksResponse(
            upsertion_tasks=[convert.upsertion_task(t, f) for t, f in rows], total=total
        )

    async def RestartUpsertionTask(
        self, request: pb.RestartUpsertionTaskRequest, context: Ctx
    ) -> pb.RestartUpsertionTaskResponse:
        await self.tasks.require(call.principal(), request.task_id)
        raise not_yet("UpsertionTaskService/RestartUpsertionTask", "upsertion tasks")

    async def CancelUpsertionTask(
        self, request: pb.CancelUpsertionTaskRequest, context: Ctx
    ) -> pb.CancelUpsertionTaskResponse:
        await self.tasks.require(call.principal(), request.task_id)
        raise not_yet("UpsertionTaskService/CancelUpsertionTask", "upsertion tasks")

    async def SearchCollection(self, request: pb.SearchCollectionRequest, context: Ctx) -> pb.SearchCollectionResponse:
        call.principal()
        if not request.query:
            raise InvalidArgument.field("query", "is required")
        raise not_yet("UpsertionTaskService/SearchCollection", "search")
