"""Files and directories of knowledge bases: what uploads record and replace, parse states, tree listings."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from vecflow.storage import models as m
from vecflow.storage import repositories as repo
from vecflow.storage.models import utcnow

FILES = m.table(m.File)
DIRS = m.table(m.Directory)
KBS = m.table(m.KnowledgeBase)
# Hot-path statements, built once: a parameter named like a column sets it (update).
_FILE_BY_ID = update(FILES).where(FILES.c.id == bindparam("file_id"))
_TO_PARSE = ("id", "project_id", "uid", "content_type", "content_length", "parse_state", "parse_job_id", "ocr")
_FILE_TO_PARSE = (
    select(*(FILES.c[k] for k in _TO_PARSE), *(c.label("kb_ocr") for c in (KBS.c.ocr,)))
    .join_from(FILES, KBS, KBS.c.id == FILES.c.kb_id)
    .where(FILES.c.id == bindparam("file_id"))
)


# Uploads ------------------------------------------------------------------------------------


def file_at(conn: Connection, kb_id: str, directory: str, name: str) -> Row[str, str, str, str, str] | None:
    """The id, content (uid, content_type), parse_state and OCR setting of the file at that place, if there is one."""
    return conn.execute(
        select(FILES.c.id, FILES.c.uid, FILES.c.content_type, FILES.c.parse_state, FILES.c.ocr).where(
            FILES.c.kb_id == kb_id, FILES.c.directory == directory, FILES.c.name == name
        )
    ).first()


def add_directory_if_absent(
    conn: Connection, directory_id: str, project_id: str, kb_id: str, path: str, created_at: datetime
) -> bool:
    """Record the directory at `path` unless it exists already (a concurrent upload may create it); whether it
    went in."""
    parent, _, name = path.rpartition("/")
    return repo.insert_ignoring_conflict(
        conn,
        DIRS,
        {
            "id": directory_id,
            "project_id": project_id,
            "kb_id": kb_id,
            "path": path,
            "parent": parent,
            "name": name,
            "created_at": created_at,
        },
    )


def replace_file(conn: Connection, file_id: str, values: dict[str, Any]) -> None:
    """Set the file's columns to `values` (keyed by column name): a replacing upload."""
    conn.execute(update(FILES).where(FILES.c.id == file_id).values(**values))


def file_exists(conn: Connection, file_id: str) -> bool:
    """Whether the file is (still) there."""
    return conn.execute(select(FILES.c.id).where(FILES.c.id == file_id)).first() is not None


# Parse states -------------------------------------------------------------------------------


def mark_parse_pending(conn: Connection, file_id: str, job_id: str) -> None:
    """The file waits for the parse job `job_id`."""
    conn.execute(
        update(FILES)
        .where(FILES.c.id == file_id)
        .values(parse_state="pending", parse_job_id=job_id, updated_at=utcnow())
    )


def file_to_parse(conn: Connection, file_id: str) -> Row[Any] | None:
    """What a parse job reads of its file (id, project_id, uid, content_type, content_length, parse_state,
    parse_job_id, ocr) and its knowledge base's OCR setting (kb_ocr), if the file is there."""
    return conn.execute(_FILE_TO_PARSE, {"file_id": file_id}).first()


def mark_parsed(conn: Connection, file_id: str, parse_result_id: str, now: datetime) -> bool:
    """The file's parse succeeded with this result (its parse error cleared); False when the file is gone."""
    parsed = {"parse_state": "success", "parse_result_id": parse_result_id, "updated_at": now}
    return bool(
        conn.execute(
            _FILE_BY_ID, {"file_id": file_id, "parse_error_code": "", "parse_error_message": "", **parsed}
        ).rowcount
    )


# Tree listings ------------------------------------------------------------------------------


async def page_directories(
    s: AsyncSession, kb_id: str, parent: str, size: int, token: str
) -> tuple[Sequence[m.Directory], str]:
    """One page of the directories right below `parent`, by name, with the next page's token."""
    stmt = select(m.Directory).where(m.Directory.kb_id == kb_id, m.Directory.parent == parent)
    filters = {"kind": "dirs", "kb": kb_id, "parent": parent}
    return await repo.page_by_key(s, stmt, [m.Directory.name], size, token, filters)


async def page_files(
    s: AsyncSession, kb_id: str, directory: str, recursive: bool, parse_state: str, size: int, token: str
) -> tuple[Sequence[m.File], str]:
    """One page of the files in `directory` (with `recursive`, also below it; with `parse_state`, only those in
    it), by directory and name, with the next page's token."""
    stmt = select(m.File).where(m.File.kb_id == kb_id)
    if recursive:
        if directory:
            stmt = stmt.where(
                (m.File.directory == directory) | m.File.directory.startswith(directory + "/", autoescape=True)
            )
    else:
        stmt = stmt.where(m.File.directory == directory)
    if parse_state:
        stmt = stmt.where(m.File.parse_state == parse_state)
    filters = {"kind": "files", "kb": kb_id, "dir": directory, "r": recursive, "state": parse_state}
    return await repo.page_by_key(s, stmt, [m.File.directory, m.File.name], size, token, filters)
