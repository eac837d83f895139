"""Locks for replicas sharing one database: PostgreSQL advisory locks, and SQLite kept to one server per file.

Advisory locks are keyed by name (a stable 64-bit hash) and scoped to the database, so unrelated databases on
one PostgreSQL server never contend. A transaction-level lock goes with its transaction: a replica that dies
holding one loses it with its connection. On SQLite there is a single server, so these are no-ops there.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from sqlalchemy import Connection, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession

from vecflow.storage.db import Database

MIGRATIONS = "vecflow.migrations"
BOOTSTRAP = "vecflow.bootstrap"


class SingleNodeDatabase(Exception):
    """A server cannot start on this SQLite database: another server has the file, or its role needs a database
    that replicas can share."""


def lock_key(name: str) -> int:
    """The advisory lock key of `name`: a signed 64-bit integer, the same on every replica."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


def hold(conn: Connection, name: str) -> None:
    """Wait for the transaction-level lock `name` on `conn`'s transaction (PostgreSQL; a no-op elsewhere)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": lock_key(name)})


async def hold_in(session: AsyncSession, name: str) -> None:
    """Wait for the transaction-level lock `name` on the session's transaction (PostgreSQL; a no-op elsewhere)."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": lock_key(name)})


@asynccontextmanager
async def exclusive(db: Database, name: str) -> AsyncIterator[bool]:
    """Whether this replica has `name` for the block, without waiting: False while another replica holds it.

    On PostgreSQL a transaction-level lock on a connection of its own, released when the block ends (the
    transaction is rolled back; it wrote nothing). Elsewhere always True: there is one server."""
    if db.dialect != "postgresql":
        yield True
        return
    async with db.engine.connect() as conn:
        got = await conn.scalar(text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": lock_key(name)})
        yield bool(got)


class SqliteFileLock:
    """An exclusive lock on `<database>.lock` beside a SQLite file, held while one server uses the file.

    `flock` locks belong to the open file, so a second server (another process, or another one in this
    process) is refused; the kernel drops the lock when the process ends, however it ends."""

    def __init__(self, database: Path) -> None:
        self.database = database
        self.path = database.with_name(database.name + ".lock")
        self._fd: int | None = None

    @classmethod
    def for_url(cls, url: str) -> SqliteFileLock | None:
        """The lock for a SQLite URL's file; None for other databases and in-memory SQLite."""
        parsed = make_url(url)
        if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
            return None
        return cls(Path(parsed.database).resolve())

    def acquire(self) -> None:
        """Take the lock, or raise SingleNodeDatabase naming the file when another server holds it."""
        import fcntl

        if self._fd is not None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip()
            os.close(fd)
            by = f"another vecflow server (pid {holder})" if holder.isdigit() else "another vecflow server"
            raise SingleNodeDatabase(
                f"the SQLite database {self.database} is in use by {by}. SQLite is the single-node default: one "
                "server per database file. To run several replicas, point them all at one PostgreSQL database "
                "(VECFLOW_DATABASE_URL=postgresql+asyncpg://user@host/db)"
            ) from None
        except BaseException:
            os.close(fd)
            raise
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._fd = fd

    def release(self) -> None:
        """Give the file up (closing the lock file releases the lock)."""
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)
