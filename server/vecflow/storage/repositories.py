"""Tenant-scoped queries. Every lookup filters on project_id, so a foreign id reads as missing."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Connection, Insert, Select, and_, bindparam, func, insert, or_, select
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.ext.asyncio import AsyncSession

from vecflow.errors import NotFound
from vecflow.storage import models as m
from vecflow.storage import paging

T = TypeVar("T", bound=m.Base)


async def get_owned(session: AsyncSession, model: type[T], project_id: str, resource_id: str) -> T | None:
    """The row with this id if it belongs to the project, else None."""
    if not resource_id:
        return None
    row = await session.get(model, resource_id)
    if row is None or getattr(row, "project_id", None) != project_id:
        return None
    return row


async def owned_job(session: AsyncSession, project_id: str, job_id: str) -> m.Job:
    """The job if it belongs to the project; NOT_FOUND otherwise (a foreign job is not found, never forbidden)."""
    job = await get_owned(session, m.Job, project_id, job_id)
    if job is None:
        raise NotFound.resource("job", job_id)
    return job


async def page_newest_first(
    session: AsyncSession,
    stmt: Select[Any],
    model: Any,
    size: int,
    token: str,
    filters: dict[str, Any],
    *,
    rows_of: bool = False,
) -> tuple[Sequence[Any], str]:
    """One page of `stmt` ordered by (created_at, id) descending, with the next page's token: the `model` rows,
    or (`rows_of`) whole result rows whose first element is the `model` row."""
    after = paging.decode(token, filters, (str, str))
    if after is not None:
        try:
            created = datetime.fromisoformat(after[0])
        except ValueError:
            raise paging.invalid() from None
        stmt = stmt.where(or_(model.created_at < created, and_(model.created_at == created, model.id < after[1])))
    stmt = stmt.order_by(model.created_at.desc(), model.id.desc()).limit(size + 1)
    rows = list((await session.execute(stmt)).all() if rows_of else (await session.scalars(stmt)).all())
    next_token = ""
    if len(rows) > size:
        rows = rows[:size]
        last = rows[-1][0] if rows_of else rows[-1]
        next_token = paging.encode([last.created_at.isoformat(), last.id], filters)
    return rows, next_token


async def page_by_key(
    session: AsyncSession,
    stmt: Select[Any],
    keys: Sequence[Any],
    size: int,
    token: str,
    filters: dict[str, Any],
) -> tuple[Sequence[Any], str]:
    """One page of `stmt` ordered ascending by string `keys` (for name-ordered listings)."""
    after = paging.decode(token, filters, (str,) * len(keys))
    if after is not None:
        clauses = []
        for i in range(len(keys)):
            eq = [keys[j] == after[j] for j in range(i)]
            clauses.append(and_(*eq, keys[i] > after[i]))
        stmt = stmt.where(or_(*clauses))
    stmt = stmt.order_by(*keys).limit(size + 1)
    rows = list((await session.scalars(stmt)).all())
    next_token = ""
    if len(rows) > size:
        rows = rows[:size]
        last = rows[-1]
        next_token = paging.encode([getattr(last, k.key) for k in keys], filters)
    return rows, next_token


FILES = m.table(m.File)
DIRECTORIES = m.table(m.Directory)
ID_CHUNK = 500  # ids per IN (...) lookup


async def owned_by_id(
    session: AsyncSession, model: type[T], project_id: str, resource_ids: Sequence[str]
) -> dict[str, T]:
    """id → row for those of `resource_ids` that exist and belong to the project (a few queries, not one per id)."""
    wanted = sorted({i for i in resource_ids if i})
    found: dict[str, T] = {}
    for start in range(0, len(wanted), ID_CHUNK):
        stmt = select(model).where(
            model.id.in_(wanted[start : start + ID_CHUNK]),  # type: ignore[attr-defined]
            model.project_id == project_id,  # type: ignore[attr-defined]
        )
        found.update((row.id, row) for row in (await session.scalars(stmt)).all())  # type: ignore[attr-defined]
    return found


# Hot-path lookups, built once: only their parameters change from call to call.
_DIRECTORY_AT = select(DIRECTORIES.c.id).where(
    DIRECTORIES.c.kb_id == bindparam("kb_id"), DIRECTORIES.c.path == bindparam("path")
)
_FILE_NAMED = select(FILES.c.id).where(
    FILES.c.kb_id == bindparam("kb_id"), FILES.c.directory == bindparam("dir"), FILES.c.name == bindparam("name")
)


def name_taken_in(conn: Connection, kb_id: str, directory: str, name: str) -> str | None:
    """'file' or 'directory' when that name is used in that directory (one shared namespace)."""
    path = f"{directory}/{name}" if directory else name
    if conn.execute(_DIRECTORY_AT, {"kb_id": kb_id, "path": path}).first():
        return "directory"
    if conn.execute(_FILE_NAMED, {"kb_id": kb_id, "dir": directory, "name": name}).first():
        return "file"
    return None


def insert_ignoring_conflict(conn: Connection, table: Any, values: dict[str, Any]) -> bool:
    """INSERT a row unless it would break a unique constraint (ON CONFLICT DO NOTHING); whether it went in."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return bool(conn.execute(pg_insert(table).values(**values).on_conflict_do_nothing()).rowcount)
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return bool(conn.execute(sqlite_insert(table).values(**values).on_conflict_do_nothing()).rowcount)


def directory_exists_in(conn: Connection, kb_id: str, path: str) -> bool:
    return path == "" or conn.execute(_DIRECTORY_AT, {"kb_id": kb_id, "path": path}).first() is not None


async def name_taken(session: AsyncSession, kb_id: str, directory: str, name: str) -> str | None:
    return await session.run_sync(lambda s: name_taken_in(s.connection(), kb_id, directory, name))


async def directory_exists(session: AsyncSession, kb_id: str, path: str) -> bool:
    return await session.run_sync(lambda s: directory_exists_in(s.connection(), kb_id, path))


@dataclass(frozen=True)
class _Insert:
    statement: Insert
    columns: list[tuple[str, str, Any]]  # (attribute, column key, column default)


_INSERTS: dict[type[m.Base], _Insert] = {}


def insert_row(conn: Connection, row: m.Base) -> None:
    """Insert an ORM instance with one Core statement on a synchronous connection (see insert_rows)."""
    insert_rows(conn, [row])


def insert_rows(conn: Connection, rows: Sequence[m.Base]) -> None:
    """Insert ORM instances of one model with one Core statement on a synchronous connection (the single-hop
    write paths), first giving their unset attributes their columns' Python defaults, so that they read
    like flushed rows afterwards. The instances stay outside any session."""
    if not rows:
        return
    model = type(rows[0])
    plan = _INSERTS.get(model)
    if plan is None:
        attrs = sa_inspect(model).column_attrs
        columns = [(a.key, a.columns[0].key, a.columns[0].default) for a in attrs]
        plan = _INSERTS[model] = _Insert(insert(m.table(model)), columns)
    batch: list[dict[str, Any]] = []
    for row in rows:
        values: dict[str, Any] = {}
        for key, column, default in plan.columns:
            value = getattr(row, key)
            if value is None and default is not None:
                value = default.arg(None) if default.is_callable else default.arg
                setattr(row, key, value)
            values[column] = value
        batch.append(values)
    conn.execute(plan.statement, batch)


def in_tree(column: Any, path: str) -> Any:
    """`column` (a directory path: a directory's own, or a file's directory) is `path` or below it."""
    return or_(column == path, column.startswith(path + "/", autoescape=True))


async def directory_is_empty(session: AsyncSession, kb_id: str, path: str) -> bool:
    prefix = path + "/"
    child_dir = await session.scalar(
        select(m.Directory.id).where(m.Directory.kb_id == kb_id, m.Directory.path.startswith(prefix, autoescape=True))
    )
    child_file = await session.scalar(select(m.File.id).where(m.File.kb_id == kb_id, m.File.directory == path))
    return child_dir is None and child_file is None


async def file_counts(session: AsyncSession, vector_store_id: str, batch_id: str = "") -> dict[str, int]:
    """Counts of a store's (or one batch's) files by status, plus total."""
    stmt = select(m.VectorStoreFile.status, func.count()).where(m.VectorStoreFile.vector_store_id == vector_store_id)
    if batch_id:
        stmt = stmt.where(m.VectorStoreFile.batch_id == batch_id)
    counts = {"in_progress": 0, "completed": 0, "failed": 0, "cancelled": 0}
    for status, count in (await session.execute(stmt.group_by(m.VectorStoreFile.status))).all():
        counts[status] = counts.get(status, 0) + int(count)
    counts["total"] = sum(counts.values())
    return counts


async def job_history(session: AsyncSession, job_id: str, after_sequence: int = 0) -> Sequence[m.JobEvent]:
    stmt = (
        select(m.JobEvent)
        .where(m.JobEvent.job_id == job_id, m.JobEvent.sequence > after_sequence)
        .order_by(m.JobEvent.sequence)
    )
    return (await session.scalars(stmt)).all()
