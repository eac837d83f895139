"""Reading a stored parse result from a job (the `extract` and `chunk` operations)."""

from __future__ import annotations

from typing import Any

from vecflow.jobs.context import JobContext
from vecflow.jobs.errors import JobFailed
from vecflow.storage import models as m
from vecflow.storage.db import Database
from vecflow.storage.parsed import ParsedStore


async def load(ctx: JobContext, db: Database, parsed: ParsedStore) -> tuple[m.ParseResult, dict[str, Any]]:
    """The job's parse result (params' parse_result_id): its row and its stored content, of the job's project."""
    pr_id = ctx.params["parse_result_id"]
    async with db.read_session() as s:
        row = await s.get(m.ParseResult, pr_id)
    data = await parsed.load(pr_id) if row is not None else None
    if row is None or data is None or row.project_id != ctx.project_id:
        raise JobFailed("PARSE_RESULT_NOT_FOUND", f"parse result {pr_id} no longer exists; parse the file again")
    return row, data


def headings(data: dict[str, Any]) -> list[tuple[int, str, int]]:
    """(level, title, char_start) of a stored parse result's headings (none for results parsed before headings)."""
    out = []
    for heading in data.get("headings") or []:
        try:
            out.append((int(heading["level"]), str(heading["title"]), int(heading["char_start"])))
        except (KeyError, TypeError, ValueError):
            continue
    return out
