"""Upsertion tasks and their items: the create transaction's statements, the status that follows the task's job,
listing and paging, failed items, and what the `upsert` job reads and writes.

Status
------
Task status follows its job: pending→pending, running→processing, succeeded→done, failed→failed,
cancelled→canceled. The ``status`` column is written by the handler (start and finish) and by cancel/restart;
reads derive the status from the job itself when the task has one, so a job cancelled or restarted through
JobService, or requeued after a crash, never leaves a stale task status behind.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from sqlalchemy import ColumnElement, Connection, case, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from vecflow.statuses import JobStatus, UpsertionTaskStatus
from vecflow.storage import models as m
from vecflow.storage import repositories as repo
from vecflow.storage.db import Database
from vecflow.storage.models import utcnow

TASKS = m.table(m.UpsertionTask)

# Job status → task status.
JOB_TO_TASK = {
    JobStatus.PENDING: UpsertionTaskStatus.PENDING,
    JobStatus.RUNNING: UpsertionTaskStatus.PROCESSING,
    JobStatus.SUCCEEDED: UpsertionTaskStatus.DONE,
    JobStatus.FAILED: UpsertionTaskStatus.FAILED,
    JobStatus.CANCELLED: UpsertionTaskStatus.CANCELED,
}


class ItemValues(Protocol):
    """What an item of a new task gives: its object_id, payload and item_info."""

    @property
    def object_id(self) -> str: ...

    @property
    def payload(self) -> dict[str, Any] | None: ...

    @property
    def item_info(self) -> dict[str, Any] | None: ...


# Status ----------------------------------------------------------------------------------------------------


def effective_status() -> ColumnElement[str]:
    """The task status derived from its job's status (the stored column when it has no job)."""
    return case(
        *[(m.Job.status == job, task) for job, task in JOB_TO_TASK.items()],
        else_=m.UpsertionTask.status,
    )


JOB_OF_TASK = (m.Job.id == m.UpsertionTask.job_id) & (m.Job.project_id == m.UpsertionTask.project_id)


def with_job() -> Any:
    """Tasks with their job-derived status (column "effective")."""
    return select(m.UpsertionTask, effective_status().label("effective")).outerjoin(m.Job, JOB_OF_TASK)


def apply(task: m.UpsertionTask, effective: str | None) -> m.UpsertionTask:
    """Show the job-derived status on the row without marking it changed (nothing is ever written)."""
    if effective and effective != task.status:
        set_committed_value(task, "status", effective)
    return task


async def set_task_status(
    db: Database, project_id: str, task_id: str, status: str, only_from: Sequence[str] | None = None
) -> None:
    """Write a task's status (only when it is one of `only_from`, if given)."""
    stmt = update(m.UpsertionTask).where(m.UpsertionTask.project_id == project_id, m.UpsertionTask.id == task_id)
    if only_from is not None:
        stmt = stmt.where(m.UpsertionTask.status.in_(list(only_from)))
    async with db.session() as s:
        await s.execute(stmt.values(status=status, updated_at=utcnow()))


# Reading tasks ---------------------------------------------------------------------------------------------


def _matching(project_id: str, status: str) -> list[ColumnElement[bool]]:
    """The where clauses of a listing: the project's tasks, with this job-derived status if given."""
    where: list[ColumnElement[bool]] = [m.UpsertionTask.project_id == project_id]
    if status:
        where.append(effective_status() == status)
    return where


async def find_task(session: AsyncSession, project_id: str, task_id: str) -> m.UpsertionTask | None:
    """The project's task with this id, showing its job-derived status; None when there is none."""
    row = (
        await session.execute(with_job().where(m.UpsertionTask.id == task_id, m.UpsertionTask.project_id == project_id))
    ).first()
    if row is None:
        return None
    return apply(row[0], row[1])


async def failed_items(session: AsyncSession, task: m.UpsertionTask) -> Sequence[m.UpsertionItem]:
    """A task's failed items, in request order."""
    stmt = (
        select(m.UpsertionItem)
        .where(
            m.UpsertionItem.project_id == task.project_id,
            m.UpsertionItem.task_id == task.id,
            m.UpsertionItem.state == "failed",
        )
        .order_by(m.UpsertionItem.position)
    )
    return (await session.scalars(stmt)).all()


async def count_tasks(session: AsyncSession, project_id: str, status: str) -> int:
    """How many of the project's tasks have this job-derived status (all of them when status is empty)."""
    where = _matching(project_id, status)
    total = await session.scalar(
        select(func.count()).select_from(m.UpsertionTask).outerjoin(m.Job, JOB_OF_TASK).where(*where)
    )
    return int(total or 0)


async def tasks_newest_first(
    session: AsyncSession, project_id: str, status: str, offset: int, limit: int
) -> list[m.UpsertionTask]:
    """The project's tasks with this job-derived status (all when empty), newest first, by offset and limit."""
    stmt = (
        with_job()
        .where(*_matching(project_id, status))
        .order_by(m.UpsertionTask.created_at.desc(), m.UpsertionTask.id.desc())
        .offset(offset)
        .limit(limit)
    )
    return [apply(task, effective) for task, effective in (await session.execute(stmt)).all()]


async def page_tasks(
    session: AsyncSession, project_id: str, status: str, size: int, token: str, filters: dict[str, Any]
) -> tuple[list[m.UpsertionTask], str]:
    """One page of the project's tasks with this job-derived status (all when empty), newest first, and the next
    page's token."""
    rows, next_token = await repo.page_newest_first(
        session, with_job().where(*_matching(project_id, status)), m.UpsertionTask, size, token, filters, rows_of=True
    )
    return [apply(task, effective) for task, effective in rows], next_token


# Creating --------------------------------------------------------------------------------------------------


def task_exists_in(conn: Connection, project_id: str, task_id: str) -> bool:
    """Whether the project has a task with this id (inside the create transaction)."""
    tasks = TASKS.c
    return conn.execute(select(tasks.id).where(tasks.id == task_id, tasks.project_id == project_id)).first() is not None


def insert_task_in(conn: Connection, task: m.UpsertionTask, items: Sequence[ItemValues]) -> None:
    """Insert a new task and its items, all pending, in request order (inside the create transaction)."""
    # on PostgreSQL a concurrent create of this id fails here (IntegrityError)
    repo.insert_row(conn, task)
    conn.execute(
        insert(m.table(m.UpsertionItem)),
        [
            {
                "project_id": task.project_id,
                "task_id": task.id,
                "object_id": item.object_id,
                "position": pos,
                "payload": item.payload,
                "item_info": item.item_info,
                "state": "pending",
                "error_code": "",
                "error_reason": "",
            }
            for pos, item in enumerate(items)
        ],
    )


# The upsert job --------------------------------------------------------------------------------------------


async def pending_payloads(session: AsyncSession, project_id: str, task_id: str) -> Sequence[Any]:
    """(object_id, payload) of a task's items still pending."""
    return (
        await session.execute(
            select(m.UpsertionItem.object_id, m.UpsertionItem.payload).where(
                m.UpsertionItem.project_id == project_id,
                m.UpsertionItem.task_id == task_id,
                m.UpsertionItem.state == "pending",
            )
        )
    ).all()


async def mark_items_invalid(
    session: AsyncSession, project_id: str, task_id: str, problems: Mapping[str, tuple[str, str]]
) -> None:
    """Mark items failed with their (code, reason) by object_id, and touch the task's updated_at."""
    for oid, (code, reason) in problems.items():
        await session.execute(
            update(m.UpsertionItem)
            .where(
                m.UpsertionItem.project_id == project_id,
                m.UpsertionItem.task_id == task_id,
                m.UpsertionItem.object_id == oid,
            )
            .values(state="failed", error_code=code, error_reason=reason)
        )
    await session.execute(
        update(m.UpsertionTask)
        .where(m.UpsertionTask.project_id == project_id, m.UpsertionTask.id == task_id)
        .values(updated_at=utcnow())
    )


async def item_counts(session: AsyncSession, project_id: str, task_id: str) -> dict[str, int]:
    """How many of a task's items are in each state."""
    rows = (
        await session.execute(
            select(m.UpsertionItem.state, func.count())
            .where(m.UpsertionItem.project_id == project_id, m.UpsertionItem.task_id == task_id)
            .group_by(m.UpsertionItem.state)
        )
    ).all()
    return {state: int(n) for state, n in rows}


async def pending_items(
    session: AsyncSession, project_id: str, task_id: str, after: int, limit: int
) -> Sequence[m.UpsertionItem]:
    """The next `limit` pending items of a task after position `after`, in request order."""
    return (
        await session.scalars(
            select(m.UpsertionItem)
            .where(
                m.UpsertionItem.project_id == project_id,
                m.UpsertionItem.task_id == task_id,
                m.UpsertionItem.state == "pending",
                m.UpsertionItem.position > after,
            )
            .order_by(m.UpsertionItem.position)
            .limit(limit)
        )
    ).all()


async def record_batch(
    session: AsyncSession,
    project_id: str,
    task_id: str,
    landed: Sequence[str],
    failed: Sequence[tuple[str, str, str]],
) -> int:
    """Mark a batch's items landed or failed (object_id, code, reason) and recount the task's upserted_items,
    which it returns."""
    scope = (m.UpsertionItem.project_id == project_id, m.UpsertionItem.task_id == task_id)
    if landed:
        await session.execute(
            update(m.UpsertionItem)
            .where(*scope, m.UpsertionItem.object_id.in_(list(landed)))
            .values(state="landed", error_code="", error_reason="")
        )
    for oid, code, reason in failed:
        await session.execute(
            update(m.UpsertionItem)
            .where(*scope, m.UpsertionItem.object_id == oid)
            .values(state="failed", error_code=code, error_reason=reason)
        )
    upserted = int(await session.scalar(select(func.count()).where(*scope, m.UpsertionItem.state == "landed")) or 0)
    await session.execute(
        update(m.UpsertionTask)
        .where(m.UpsertionTask.project_id == project_id, m.UpsertionTask.id == task_id)
        .values(upserted_items=upserted, updated_at=utcnow())
    )
    return upserted
