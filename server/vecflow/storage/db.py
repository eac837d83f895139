"""The async engine and session factory, with SQLite tuned for a concurrent server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

# AsyncSession, Connection, ColumnElement and IntegrityError are also what other layers name in signatures: they
# import them from here (only storage imports SQLAlchemy).
from sqlalchemy import ColumnElement as ColumnElement
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError as IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

T = TypeVar("T")
SQLITE_POOL = 16  # pooled aiosqlite connections (each is a thread): enough that busy moments open none
READ_THREADS = 4  # threads for `Database.read` on SQLite


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.close()


class Database:
    """Owns the engine; `session()` yields a session whose transaction commits on success."""

    def __init__(self, url: str, echo: bool = False) -> None:
        parsed = make_url(url)
        self.url = url
        self.dialect = parsed.get_backend_name()
        kwargs: dict[str, Any] = {"echo": echo}
        if self.dialect == "sqlite":
            if parsed.database and parsed.database != ":memory:":
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            kwargs.update(connect_args={"timeout": 30}, pool_size=SQLITE_POOL, max_overflow=SQLITE_POOL)
        else:
            kwargs.update(pool_size=10, max_overflow=20, pool_pre_ping=True)
        self.engine: AsyncEngine = create_async_engine(url, **kwargs)
        if self.dialect == "sqlite":
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        # SQLite allows one writer; serialising write transactions in-process avoids
        # SQLITE_BUSY on read-to-write upgrades. PostgreSQL needs no such lock.
        self._write_lock = asyncio.Lock() if self.dialect == "sqlite" else None
        self._sync_engine: Engine | None = None
        # Reads get threads of their own, so that they never queue behind parsing in the default executor.
        self._readers: ThreadPoolExecutor | None = None

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A read-write transaction, committed when the block ends without error."""
        if self._write_lock is None:
            async with self.sessions() as session, session.begin():
                yield session
            return
        async with self._write_lock, self.sessions() as session, session.begin():
            yield session

    @asynccontextmanager
    async def read_session(self) -> AsyncIterator[AsyncSession]:
        """A read-only session (never committed); concurrent with writers under WAL.

        Closing (not rolling back) keeps loaded rows readable after the block.
        """
        async with self.sessions() as session:
            yield session

    @asynccontextmanager
    async def write_lock(self) -> AsyncIterator[None]:
        """Hold the in-process SQLite writer lock (a no-op on PostgreSQL)."""
        if self._write_lock is None:
            yield
            return
        async with self._write_lock:
            yield

    async def read(self, work: Callable[[Connection], T]) -> T:
        """Run `work` on a synchronous connection and return what it returns, never committing: on SQLite
        in one hop to a worker thread (not one round trip per statement), elsewhere on the async engine.
        For hot paths; `work` runs Core statements and must not touch the event loop."""
        if self.dialect != "sqlite":
            async with self.engine.connect() as conn:
                return await conn.run_sync(work)
        engine = self.sqlite_sync_engine()

        def run() -> T:
            with engine.connect() as conn:
                return work(conn)

        if self._readers is None:
            self._readers = ThreadPoolExecutor(max_workers=READ_THREADS, thread_name_prefix="vecflow-db-read")
        return await asyncio.get_running_loop().run_in_executor(self._readers, run)

    def sqlite_sync_engine(self) -> Engine:
        """A synchronous engine on the same SQLite file, for hot paths that want one thread hop per
        transaction instead of one per statement: writes from the event log's thread (EventLog.transact),
        reads from any thread (`read`)."""
        if self._sync_engine is None:
            url = make_url(self.url).set(drivername="sqlite")
            self._sync_engine = create_engine(
                url,
                connect_args={"timeout": 30, "check_same_thread": False},
                pool_size=SQLITE_POOL,
                max_overflow=SQLITE_POOL,
            )
            event.listen(self._sync_engine, "connect", _sqlite_pragmas)
        return self._sync_engine

    async def dispose(self) -> None:
        await self.engine.dispose()
        if self._readers is not None:
            await asyncio.to_thread(self._readers.shutdown)  # in-flight reads finish first
        if self._sync_engine is not None:
            self._sync_engine.dispose()
