"""Reading jobs and their history, tenant-scoped."""

from __future__ import annotations

from collections.abc import Sequence

from vecflow import validation as v
from vecflow.services.auth import Principal
from vecflow.storage import models as m
from vecflow.storage import paging
from vecflow.storage import repositories as repo
from vecflow.storage.db import Database
from vecflow.storage.job_queries import page_jobs


class JobQueryService:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def get(self, caller: Principal, job_id: str) -> tuple[m.Job, Sequence[m.JobEvent]]:
        v.required("job_id", job_id)
        async with self.db.read_session() as s:
            job = await repo.owned_job(s, caller.project_id, job_id)
            return job, await repo.job_history(s, job.id)

    async def list(
        self,
        caller: Principal,
        page_size: int,
        page_token: str,
        status: str = "",
        operation: str = "",
        source_id: str = "",
        correlation_id: str = "",
    ) -> tuple[Sequence[m.Job], str]:
        size = paging.page_size(page_size)
        filters = {
            "kind": "jobs",
            "project": caller.project_id,
            "s": status,
            "o": operation,
            "src": source_id,
            "c": correlation_id,
        }
        async with self.db.read_session() as s:
            return await page_jobs(
                s,
                caller.project_id,
                size,
                page_token,
                filters,
                status=status,
                operation=operation,
                source_id=source_id,
                correlation_id=correlation_id,
            )
