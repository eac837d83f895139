"""The statements of deleting knowledge-base files for good (vecflow.services.purge): which files a delete takes,
what it removes with them and lists for the `purge_files` job, and which stored contents files still reference."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, Connection, Row, delete, func, select, update

from vecflow.storage import models as m
from vecflow.storage import repositories as repo
from vecflow.storage.models import utcnow

FILES = m.table(m.File)
DIRS = m.table(m.Directory)
KBS = m.table(m.KnowledgeBase)
RESULTS = m.table(m.ParseResult)
VS_FILES = m.table(m.VectorStoreFile)
STORES = m.table(m.VectorStore)
JOBS = m.table(m.Job)


# Which files ----------------------------------------------------------------------------------


def file_with_id(file_id: str) -> ColumnElement[bool]:
    """The files a delete of one file takes: that one."""
    return FILES.c.id == file_id


def files_in_tree(path: str) -> ColumnElement[bool]:
    """The files a delete of a directory tree takes: those in `path` or below it."""
    return repo.in_tree(FILES.c.directory, path)


def files_of(kb_id: str, which: ColumnElement[bool] | None) -> ColumnElement[bool]:
    """The knowledge base's files matching `which` (all of them when None)."""
    return FILES.c.kb_id == kb_id if which is None else (FILES.c.kb_id == kb_id) & which


# What a delete removes and lists ----------------------------------------------------------------


@dataclass(frozen=True)
class RemovedFiles:
    """What went with a delete: how many files, and what of them lives outside the database."""

    files: int
    chunks: list[list[str]]  # [vector store id, file id] of each vector-store file removed
    parse_results: list[str]  # ids


def file_in_progress(conn: Connection, scope: ColumnElement[bool]) -> Row[str, str] | None:
    """One of the `scope` files still being added to a vector store (its file_id and vector_store_id), if any."""
    files = select(FILES.c.id).where(scope)
    return conn.execute(
        select(VS_FILES.c.file_id, VS_FILES.c.vector_store_id)
        .where(VS_FILES.c.file_id.in_(files), VS_FILES.c.status == "in_progress")
        .limit(1)
    ).first()


def remove_files(conn: Connection, kb_id: str, scope: ColumnElement[bool]) -> RemovedFiles:
    """Delete the `scope` files with their vector-store files (recounting the usage of each store that held them)
    and parse results, and mark the knowledge base updated."""
    files = select(FILES.c.id).where(scope)
    chunks = [
        [row.vector_store_id, row.file_id]
        for row in conn.execute(
            select(VS_FILES.c.vector_store_id, VS_FILES.c.file_id).where(VS_FILES.c.file_id.in_(files))
        )
    ]
    results = list(conn.execute(select(RESULTS.c.id).where(RESULTS.c.file_id.in_(files))).scalars())
    conn.execute(delete(VS_FILES).where(VS_FILES.c.file_id.in_(files)))
    now = utcnow()
    for vs_id in sorted({vs for vs, _ in chunks}):
        usage = (
            select(func.coalesce(func.sum(VS_FILES.c.usage_bytes), 0))
            .where(VS_FILES.c.vector_store_id == vs_id, VS_FILES.c.status == "completed")
            .scalar_subquery()
        )
        conn.execute(update(STORES).where(STORES.c.id == vs_id).values(usage_bytes=usage, updated_at=now))
    conn.execute(delete(RESULTS).where(RESULTS.c.file_id.in_(files)))
    deleted = conn.execute(delete(FILES).where(scope)).rowcount or 0
    conn.execute(update(KBS).where(KBS.c.id == kb_id).values(updated_at=now))
    return RemovedFiles(deleted, chunks, results)


def delete_directories_in_tree(conn: Connection, kb_id: str, path: str) -> int:
    """Delete the knowledge base's directory `path` and those below it; returns how many went."""
    return conn.execute(delete(DIRS).where(DIRS.c.kb_id == kb_id, repo.in_tree(DIRS.c.path, path))).rowcount or 0


def delete_knowledge_base(conn: Connection, kb_id: str) -> None:
    """Delete the knowledge base's directories and its row (its files go first: remove_files)."""
    conn.execute(delete(DIRS).where(DIRS.c.kb_id == kb_id))
    conn.execute(delete(KBS).where(KBS.c.id == kb_id))


# Reclaiming contents ------------------------------------------------------------------------------


def referenced_contents(conn: Connection, hashes: list[str]) -> list[str]:
    """Those of the content hashes that some file references."""
    return list(conn.execute(select(FILES.c.uid).where(FILES.c.uid.in_(hashes)).distinct()).scalars())
