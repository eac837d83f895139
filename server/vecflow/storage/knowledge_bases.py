"""Knowledge-base rows: name clashes, listings and the auto-parse setting uploads read."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from vecflow.storage import models as m
from vecflow.storage import repositories as repo

KBS = m.table(m.KnowledgeBase)
# Hot-path statement, built once: only its parameters change from call to call.
_KB_AUTO_PARSE = select(KBS.c.auto_parse).where(
    KBS.c.id == bindparam("kb_id"), KBS.c.project_id == bindparam("project_id")
)


def auto_parse_of(conn: Connection, project_id: str, kb_id: str) -> bool | None:
    """The project's knowledge base's auto-parse setting, or None when it has no such knowledge base."""
    kb = conn.execute(_KB_AUTO_PARSE, {"kb_id": kb_id, "project_id": project_id}).first()
    return None if kb is None else bool(kb.auto_parse)


async def knowledge_base_named(s: AsyncSession, project_id: str, name: str) -> str | None:
    """The id of the project's knowledge base with this name, if there is one."""
    return await s.scalar(
        select(m.KnowledgeBase.id).where(m.KnowledgeBase.project_id == project_id, m.KnowledgeBase.name == name)
    )


async def page_knowledge_bases(
    s: AsyncSession, project_id: str, size: int, token: str
) -> tuple[Sequence[m.KnowledgeBase], str]:
    """One page of the project's knowledge bases, newest first, with the next page's token."""
    stmt = select(m.KnowledgeBase).where(m.KnowledgeBase.project_id == project_id)
    return await repo.page_newest_first(s, stmt, m.KnowledgeBase, size, token, {"kind": "kb", "project": project_id})
