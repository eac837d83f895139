"""Upsertion tasks (read side; creating and running them comes with the upsert pipeline)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select

from vecflow import validation as v
from vecflow.errors import InvalidArgument, NotFound
from vecflow.services.auth import Principal
from vecflow.storage import models as m
from vecflow.storage.db import Database

MAX_LIST_LIMIT = 500
DEFAULT_LIST_LIMIT = 50


class UpsertionTaskService:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def get(self, caller: Principal, task_id: str) -> tuple[m.UpsertionTask, Sequence[m.UpsertionItem]]:
        v.required("task_id", task_id)
        async with self.db.read_session() as s:
            task = await s.get(m.UpsertionTask, (task_id, caller.project_id))
            if task is None:
                raise NotFound.resource("upsertion task", task_id)
            return task, await self._failed_items(s, task)

    async def list(
        self, caller: Principal, offset: int, limit: int, status: str
    ) -> tuple[list[tuple[m.UpsertionTask, Sequence[m.UpsertionItem]]], int]:
        if offset < 0:
            raise InvalidArgument.field("offset", f"must be 0 or more, got {offset}")
        if limit < 0:
            raise InvalidArgument.field("limit", f"must be between 0 and {MAX_LIST_LIMIT}, got {limit}")
        limit = DEFAULT_LIST_LIMIT if limit == 0 else min(limit, MAX_LIST_LIMIT)
        where = [m.UpsertionTask.project_id == caller.project_id]
        if status:
            where.append(m.UpsertionTask.status == status)
        async with self.db.read_session() as s:
            total = await s.scalar(select(func.count()).select_from(m.UpsertionTask).where(*where))
            stmt = (
                select(m.UpsertionTask)
                .where(*where)
                .order_by(m.UpsertionTask.created_at.desc(), m.UpsertionTask.id.desc())
                .offset(offset)
                .limit(limit)
            )
            tasks = (await s.scalars(stmt)).all()
            return [(t, await self._failed_items(s, t)) for t in tasks], int(total or 0)

    async def require(self, caller: Principal, task_id: str) -> m.UpsertionTask:
        task, _ = await self.get(caller, task_id)
        return task

    @staticmethod
    async def _failed_items(s: object, task: m.UpsertionTask) -> Sequence[m.UpsertionItem]:
        stmt = (
            select(m.UpsertionItem)
            .where(
                m.UpsertionItem.project_id == task.project_id,
                m.UpsertionItem.task_id == task.id,
                m.UpsertionItem.state == "failed",
            )
            .order_by(m.UpsertionItem.position)
        )
        return (await s.scalars(stmt)).all()  # type: ignore[attr-defined]
