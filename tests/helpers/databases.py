"""Test databases: a fresh SQLite file per test, or a fresh PostgreSQL database when VECFLOW_TEST_POSTGRES_URL
is set (created and dropped per test)."""

from __future__ import annotations

import uuid

from sqlalchemy.engine import make_url

POSTGRES_ENV = "VECFLOW_TEST_POSTGRES_URL"
BACKENDS = ["sqlite", "postgres"]


async def create_pg_database(base_url: str) -> tuple[str, str]:
    import asyncpg

    name = f"vf_test_{uuid.uuid4().hex[:12]}"
    url = make_url(base_url)
    conn = await asyncpg.connect(url.set(drivername="postgresql").render_as_string(hide_password=False))
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return url.set(database=name).render_as_string(hide_password=False), name


async def drop_pg_database(base_url: str, name: str) -> None:
    import asyncpg

    url = make_url(base_url).set(drivername="postgresql")
    conn = await asyncpg.connect(url.render_as_string(hide_password=False))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()
