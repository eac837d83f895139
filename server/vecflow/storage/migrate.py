"""Apply (or generate) Alembic migrations programmatically, on SQLite and PostgreSQL alike."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection

from vecflow.storage import locks
from vecflow.storage.db import Database

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(connection: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


async def upgrade(db: Database, revision: str = "head") -> None:
    """Bring the schema up to `revision`; an older database is migrated in place.

    One transaction under an advisory lock on PostgreSQL: replicas starting together migrate once, the others
    wait for it and then find the schema current."""

    def run(conn: Connection) -> None:
        locks.hold(conn, locks.MIGRATIONS)
        command.upgrade(alembic_config(conn), revision)

    async with db.engine.begin() as conn:
        await conn.run_sync(run)


async def current_revision(db: Database) -> str | None:
    from alembic.runtime.migration import MigrationContext

    def read(conn: Connection) -> str | None:
        return MigrationContext.configure(conn).get_current_revision()

    async with db.engine.connect() as conn:
        return await conn.run_sync(read)


async def autogenerate(db: Database, message: str) -> None:
    """Developer tool: write a new revision from the difference between models and the database."""

    def run(conn: Connection) -> None:
        command.revision(alembic_config(conn), message=message, autogenerate=True)

    async with db.engine.begin() as conn:
        await conn.run_sync(run)
