"""An upsertion task's status follows its job's.

Status
------
Task status follows its job: pending→pending, running→processing, succeeded→done, failed→failed,
cancelled→canceled. The ``status`` column is written by the handler (start and finish) and by cancel/restart;
reads derive the status from the job itself when the task has one, so a job cancelled or restarted through
JobService, or requeued after a crash, never leaves a stale task status behind.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, case, select
from sqlalchemy.orm.attributes import set_committed_value

from vecflow.statuses import JobStatus, UpsertionTaskStatus
from vecflow.storage import models as m

# Job status → task status.
JOB_TO_TASK = {
    JobStatus.PENDING: UpsertionTaskStatus.PENDING,
    JobStatus.RUNNING: UpsertionTaskStatus.PROCESSING,
    JobStatus.SUCCEEDED: UpsertionTaskStatus.DONE,
    JobStatus.FAILED: UpsertionTaskStatus.FAILED,
    JobStatus.CANCELLED: UpsertionTaskStatus.CANCELED,
}


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
