"""Which keyword analyzer each project's item collection has (`ProjectCollection` rows).

A project's "default" and "categories" collections get their analyzer from the first upsertion task that writes
to them; a collection without a row is english (it predates the choice, or is still empty).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Select, select

from vecflow.storage import models as m
from vecflow.storage import repositories as repo
from vecflow.storage.db import Database
from vecflow.storage.models import utcnow

COLLECTIONS = m.table(m.ProjectCollection)


def _query(project_id: str, collection: str) -> Select[Any]:
    c = COLLECTIONS.c
    return select(c.keyword_analyzer).where(c.project_id == project_id, c.collection == collection)


async def analyzer_of(db: Database, project_id: str, collection: str) -> str | None:
    """The analyzer recorded for the project's collection, or None when none is."""

    def read(conn: Connection) -> str | None:
        found = conn.execute(_query(project_id, collection)).scalar_one_or_none()
        return None if found is None else str(found)

    return await db.read(read)


def claim_in(conn: Connection, project_id: str, collection: str, analyzer: str) -> str:
    """Inside a write transaction: the analyzer of the project's collection, recording `analyzer` for it when it
    has none yet (on PostgreSQL a concurrent first claim fails here with IntegrityError)."""
    found = conn.execute(_query(project_id, collection)).scalar_one_or_none()
    if found is not None:
        return str(found)
    repo.insert_row(
        conn,
        m.ProjectCollection(
            project_id=project_id, collection=collection, keyword_analyzer=analyzer, created_at=utcnow()
        ),
    )
    return analyzer
