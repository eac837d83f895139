"""Accounts, projects and API keys: the lookups and listings behind authentication and tenant administration."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from vecflow.storage import models as m


async def key_by_hash(session: AsyncSession, key_hash: str) -> m.ApiKey | None:
    """The API key stored under this hash (revoked or not); None when there is none."""
    return await session.scalar(select(m.ApiKey).where(m.ApiKey.key_hash == key_hash))


async def account_named(session: AsyncSession, name: str) -> str | None:
    """The id of the account with this name; None when there is none."""
    return await session.scalar(select(m.Account.id).where(m.Account.name == name))


async def any_account(session: AsyncSession) -> bool:
    """Whether any account exists."""
    return bool(await session.scalar(select(func.count()).select_from(m.Account)))


async def list_accounts(session: AsyncSession) -> list[m.Account]:
    """All accounts, oldest first."""
    return list((await session.scalars(select(m.Account).order_by(m.Account.created_at))).all())


async def list_projects(session: AsyncSession, account_id: str = "") -> list[m.Project]:
    """The projects (of one account, if given), oldest first."""
    stmt = select(m.Project).order_by(m.Project.created_at)
    if account_id:
        stmt = stmt.where(m.Project.account_id == account_id)
    return list((await session.scalars(stmt)).all())


async def list_keys(session: AsyncSession, project_id: str = "") -> list[m.ApiKey]:
    """The API keys (of one project, if given), oldest first."""
    stmt = select(m.ApiKey).order_by(m.ApiKey.created_at)
    if project_id:
        stmt = stmt.where(m.ApiKey.project_id == project_id)
    return list((await session.scalars(stmt)).all())
