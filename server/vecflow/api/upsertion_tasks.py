"""vecflow.v1.UpsertionTaskService handlers."""

from __future__ import annotations

from typing import TypeAlias

import grpc
from vecflow_client.v1 import common_pb2
from vecflow_client.v1 import upsertion_task_service_pb2 as pb
from vecflow_client.v1 import upsertion_task_service_pb2_grpc as rpc

from vecflow.api import context as call
from vecflow.api import convert
from vecflow.api.common import idempotent
from vecflow.errors import InvalidArgument
from vecflow.services.idempotency import IdempotencyService
from vecflow.services.upsertion import NewItem, UpsertionTaskService
from vecflow.vectors.milvus import Hit

Ctx: TypeAlias = grpc.aio.ServicerContext


def item_hit(hit: Hit) -> common_pb2.SearchHit:
    """A collection search hit: the item's object_id, text, payload and item_info (as attributes)."""
    f = hit.fields
    return common_pb2.SearchHit(
        score=hit.score,
        text=f.get("text") or "",
        object_id=f.get("object_id") or "",
        payload=convert.struct(f.get("payload") or {}),
        attributes=convert.struct(f.get("item_info") or {}),
    )


def collection_word(value: int) -> str:
    """The collection's domain word; "" for COLLECTION_UNSPECIFIED (the default collection)."""
    if value and value not in convert.COLLECTION.to_word:
        raise InvalidArgument.field("collection", f"unknown value {value}")
    return convert.COLLECTION.word(value)


def new_items(request: pb.CreateUpsertionTaskRequest) -> list[NewItem]:
    return [
        NewItem(
            object_id=item.object_id,
            payload=convert.struct_or_empty(item.payload, item.HasField("payload"), f"items[{i}].payload"),
            item_info=convert.struct_or_empty(item.item_info, item.HasField("item_info"), f"items[{i}].item_info"),
        )
        for i, item in enumerate(request.items)
    ]


class UpsertionTaskServicer(rpc.UpsertionTaskServiceServicer):
    def __init__(self, tasks: UpsertionTaskService, idempotency: IdempotencyService) -> None:
        self.tasks = tasks
        self.idempotency = idempotency

    async def CreateUpsertionTask(
        self, request: pb.CreateUpsertionTaskRequest, context: Ctx
    ) -> pb.CreateUpsertionTaskResponse:
        async def produce() -> pb.CreateUpsertionTaskResponse:
            result = await self.tasks.create(
                call.principal(),
                request.task_id,
                new_items(request),
                collection_word(request.collection),
                request.text_field,
                request.keyword_analyzer,
            )
            return pb.CreateUpsertionTaskResponse(
                upsertion_task=convert.upsertion_task(result.task, result.failed), created=result.created
            )

        return await idempotent(
            self.idempotency, "CreateUpsertionTask", request, pb.CreateUpsertionTaskResponse, produce
        )

    async def GetUpsertionTask(self, request: pb.GetUpsertionTaskRequest, context: Ctx) -> pb.GetUpsertionTaskResponse:
        task, failed = await self.tasks.get(call.principal(), request.task_id)
        return pb.GetUpsertionTaskResponse(upsertion_task=convert.upsertion_task(task, failed))

    async def ListUpsertionTasks(
        self, request: pb.ListUpsertionTasksRequest, context: Ctx
    ) -> pb.ListUpsertionTasksResponse:
        rows, total, token = await self.tasks.list(
            call.principal(),
            request.offset,
            request.limit,
            convert.TASK_STATUS.word(request.status),
            page_size=request.page_size,
            page_token=request.page_token,
        )
        return pb.ListUpsertionTasksResponse(
            upsertion_tasks=[convert.upsertion_task(t, f) for t, f in rows], total=total, next_page_token=token
        )

    async def RestartUpsertionTask(
        self, request: pb.RestartUpsertionTaskRequest, context: Ctx
    ) -> pb.RestartUpsertionTaskResponse:
        async def produce() -> pb.RestartUpsertionTaskResponse:
            task, failed = await self.tasks.restart(call.principal(), request.task_id)
            return pb.RestartUpsertionTaskResponse(upsertion_task=convert.upsertion_task(task, failed))

        return await idempotent(
            self.idempotency, "RestartUpsertionTask", request, pb.RestartUpsertionTaskResponse, produce
        )

    async def CancelUpsertionTask(
        self, request: pb.CancelUpsertionTaskRequest, context: Ctx
    ) -> pb.CancelUpsertionTaskResponse:
        async def produce() -> pb.CancelUpsertionTaskResponse:
            task, failed = await self.tasks.cancel(call.principal(), request.task_id)
            return pb.CancelUpsertionTaskResponse(upsertion_task=convert.upsertion_task(task, failed))

        return await idempotent(
            self.idempotency, "CancelUpsertionTask", request, pb.CancelUpsertionTaskResponse, produce
        )

    async def SearchCollection(self, request: pb.SearchCollectionRequest, context: Ctx) -> pb.SearchCollectionResponse:
        ranking = request.ranking_options
        hits = await self.tasks.search(
            call.principal(),
            collection_word(request.collection),
            request.query,
            request.max_num_results,
            request.filter,
            convert.RANKING_MODE.word(ranking.mode) or "hybrid",
            ranking.score_threshold,
            ranking.dense_weight,
            ranking.keyword_weight,
        )
        return pb.SearchCollectionResponse(hits=[item_hit(h) for h in hits])
