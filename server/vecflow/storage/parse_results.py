"""Parse-result rows: recording a parse job's result, and the results of a file."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from vecflow.storage import models as m

RESULTS = m.table(m.ParseResult)
# Hot-path statements, built once: a parameter named like a column sets it (update).
_RESULT_BY_ID = update(RESULTS).where(RESULTS.c.id == bindparam("result_id"))
_NEW_RESULT = insert(RESULTS)


def record_result(conn: Connection, result_id: str, values: dict[str, Any], now: datetime) -> None:
    """Write the result's row with `values` (keyed by column name): rewrite it when a retried step wrote it
    already, else create it at `now`."""
    if not conn.execute(_RESULT_BY_ID, {"result_id": result_id, **values}).rowcount:
        conn.execute(_NEW_RESULT, {"id": result_id, "created_at": now, **values})


async def result_ids_of_file(s: AsyncSession, file_id: str) -> list[str]:
    """The ids of the file's parse results."""
    return list((await s.scalars(select(m.ParseResult.id).where(m.ParseResult.file_id == file_id))).all())
