"""Fixtures: a real vecflow server on a loopback port, over SQLite files or PostgreSQL (helpers: tests/helpers)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from helpers.databases import BACKENDS, POSTGRES_ENV, create_pg_database, drop_pg_database
from helpers.server import JOB_SETTINGS, Server, start_server


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty database: a SQLite file, or a new PostgreSQL database (dropped afterwards)."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'vecflow.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
async def postgres_url() -> AsyncIterator[str]:
    """A new PostgreSQL database (dropped afterwards); skipped when VECFLOW_TEST_POSTGRES_URL is unset."""
    base = os.environ.get(POSTGRES_ENV)
    if not base:
        pytest.skip(f"{POSTGRES_ENV} is not set (e.g. postgresql+asyncpg://postgres@127.0.0.1:5432/test)")
    url, name = await create_pg_database(base)
    try:
        yield url
    finally:
        await drop_pg_database(base, name)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'vecflow.db'}"


@pytest.fixture
async def server(tmp_path: Path, sqlite_url: str) -> AsyncIterator[Server]:
    """A server on a fresh SQLite database."""
    srv = await start_server(tmp_path, sqlite_url)
    try:
        yield srv
    finally:
        await srv.close()


@pytest.fixture
async def any_server(tmp_path: Path, database_url: str) -> AsyncIterator[Server]:
    """A server on each backend (SQLite, and PostgreSQL when configured)."""
    srv = await start_server(tmp_path, database_url)
    try:
        yield srv
    finally:
        await srv.close()


@pytest.fixture
async def job_server(tmp_path: Path, sqlite_url: str) -> AsyncIterator[Server]:
    """A server running the test job handlers (tests/helpers/job_plugins.py) with short leases."""
    srv = await start_server(tmp_path, sqlite_url, **JOB_SETTINGS)
    try:
        yield srv
    finally:
        await srv.close()
