"""Engine and session factories for the store, configured from `DATABASE_URL`."""

from __future__ import annotations

import asyncio
import os
import weakref
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import create_engine, event
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Session

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///.data/followthrough.db"

# The execution option `read_session` sets on its engine: how `_on_begin` begins on SQLite.
_BEGIN_OPTION = "sqlite_begin"
# One read-only view per engine, sharing its pool; dropped with the engine.
_READERS: weakref.WeakKeyDictionary[AsyncEngine, AsyncEngine] = weakref.WeakKeyDictionary()
_T = TypeVar("_T")

# Bare schemes (as hosting platforms hand them out) mapped to the async drivers we ship.
_ASYNC_DRIVERS = {
    "sqlite": "sqlite+aiosqlite",
    "postgres": "postgresql+asyncpg",
    "postgresql": "postgresql+asyncpg",
}


def database_url() -> str:
    """`DATABASE_URL` from the environment, else a local SQLite file.

    The library default for running Alembic on its own; the worker and the CLI pass the URL
    from their `Settings` to `migrate` and `Store.from_url` instead.
    """
    return os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL


def _async_url(url: str) -> URL:
    parsed = make_url(url)
    driver = _ASYNC_DRIVERS.get(parsed.drivername)
    return parsed.set(drivername=driver) if driver else parsed


def make_engine(url: str) -> AsyncEngine:
    """An async engine for SQLite (WAL, foreign keys on) or a pooled one for PostgreSQL."""
    parsed = _async_url(url)
    if parsed.get_backend_name() != "sqlite":
        # Pre-ping: a worker outlives database restarts and idle-connection reaping.
        return create_async_engine(parsed, pool_pre_ping=True)

    database = parsed.database or ""
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(parsed)
    _configure_sqlite(engine.sync_engine)
    return engine


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from the driver so `_on_begin` decides how to BEGIN;
        # PRAGMAs also only take effect outside a transaction.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            # busy_timeout first, so switching to WAL waits for other connections.
            cursor.execute("PRAGMA busy_timeout=5000")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        # IMMEDIATE takes the write lock up front. A deferred transaction that reads and then
        # writes fails at once with "database is locked" when another connection committed in
        # between (busy_timeout does not apply to that case); this way it waits instead.
        # Sessions from `read_session` never write, so they begin DEFERRED: under WAL their
        # reads neither wait for nor block the writers.
        mode = connection.get_execution_options().get(_BEGIN_OPTION, "IMMEDIATE")
        connection.exec_driver_sql(f"BEGIN {mode}")


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions whose objects stay readable after commit (repositories return them detached).

    On SQLite, `begin()` also queues this process's writers (`OneWriterAtATime`)."""
    if engine.dialect.name == "sqlite":
        return OneWriterAtATime(engine, expire_on_commit=False)
    return async_sessionmaker(engine, expire_on_commit=False)


class OneWriterAtATime(async_sessionmaker[AsyncSession]):
    """SQLite lets one connection write at a time; `begin()` waits its turn in this process.

    Without the queue, concurrent writers wait inside SQLite's busy handler, which sleeps in
    steps of up to 100 ms and gives up after `busy_timeout` ("database is locked"): under
    100 concurrent activities, writers waited out the 5 s timeout and their activities were
    retried. Here the next writer starts as soon as the last commits.
    Other processes (the CLI, the receiver) still meet the busy handler, as before. Reads
    (`read_session`) do not queue.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.turn = asyncio.Lock()
        """Held by every writer of this process: `begin()` and `writing()`."""

    @asynccontextmanager
    async def begin(self) -> AsyncIterator[AsyncSession]:  # type: ignore[override]
        async with self.turn, super().begin() as session:
            yield session


def read_session(sessions: async_sessionmaker[AsyncSession]) -> AsyncSession:
    """A session for reads only. On SQLite it does not take the write lock (BEGIN DEFERRED);
    elsewhere it is an ordinary session. Writing through it on SQLite can fail with
    "database is locked": use `sessions.begin()` for anything that writes."""
    bind = sessions.kw.get("bind")
    if not isinstance(bind, AsyncEngine) or bind.dialect.name != "sqlite":
        return sessions()
    reader = _READERS.get(bind)
    if reader is None:
        reader = _READERS[bind] = bind.execution_options(**{_BEGIN_OPTION: "DEFERRED"})
    return sessions(bind=reader)


async def reading(sessions: async_sessionmaker[AsyncSession], work: Callable[[Session], _T]) -> _T:
    """`work(session)` in one read-only transaction; what it returns stays readable after.

    On a SQLite file the whole transaction runs on one of the store's threads, on the
    standard `sqlite3` driver: one hand-over instead of one per statement (measured by
    `bench/store_calls.py`: a primary-key read costs the process ~0.5 ms of CPU this way,
    ~1.4 ms through aiosqlite). Elsewhere it runs on the async session through `run_sync`.
    """
    threads = _threads_of(sessions)
    if threads is None:
        async with read_session(sessions) as session:
            return await session.run_sync(work)
    return await asyncio.get_running_loop().run_in_executor(threads.reads, threads.read, work)


async def writing(sessions: async_sessionmaker[AsyncSession], work: Callable[[Session], _T]) -> _T:
    """`work(session)` in one write transaction, committed when it returns (rolled back when
    it raises); as `reading`, in one hand-over on a SQLite file. Writers take their turn."""
    threads = _threads_of(sessions)
    if threads is None:
        async with sessions.begin() as session:
            return await session.run_sync(work)
    assert isinstance(sessions, OneWriterAtATime)
    async with sessions.turn:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(threads.writes, threads.write, work)


class _SqliteThreads:
    """A synchronous engine on the same SQLite file, and the threads its transactions run on:
    one writer (SQLite has one at a time anyway) and two readers (WAL lets them overlap)."""

    def __init__(self, url: URL) -> None:
        self.engine = create_engine(
            url.set(drivername="sqlite"), connect_args={"check_same_thread": False}
        )
        _configure_sqlite(self.engine)
        self.reader = self.engine.execution_options(**{_BEGIN_OPTION: "DEFERRED"})
        self.writes = ThreadPoolExecutor(1, thread_name_prefix="store-write")
        self.reads = ThreadPoolExecutor(2, thread_name_prefix="store-read")

    def read(self, work: Callable[[Session], _T]) -> _T:
        with Session(self.reader, expire_on_commit=False) as session, session.begin():
            return work(session)

    def write(self, work: Callable[[Session], _T]) -> _T:
        with Session(self.engine, expire_on_commit=False) as session, session.begin():
            return work(session)

    def close(self) -> None:
        self.writes.shutdown(wait=False)
        self.reads.shutdown(wait=False)
        self.engine.dispose()


# The threads of each SQLite file engine (by its sync engine); closed when it is disposed.
_THREADS: weakref.WeakKeyDictionary[Engine, _SqliteThreads] = weakref.WeakKeyDictionary()


def _threads_of(sessions: async_sessionmaker[AsyncSession]) -> _SqliteThreads | None:
    bind = sessions.kw.get("bind")
    if not isinstance(bind, AsyncEngine) or not isinstance(sessions, OneWriterAtATime):
        return None
    threads = _THREADS.get(bind.sync_engine)
    if threads is None:
        database = bind.url.database or ""
        if database in ("", ":memory:") or "memory" in str(bind.url.query.get("mode", "")):
            return None  # each connection of an in-memory database is a database of its own
        threads = _THREADS[bind.sync_engine] = _SqliteThreads(bind.url)
        if not event.contains(bind.sync_engine, "engine_disposed", _close_threads):
            event.listen(bind.sync_engine, "engine_disposed", _close_threads)
    return threads


def _close_threads(engine: Engine) -> None:
    threads = _THREADS.pop(engine, None)
    if threads is not None:
        threads.close()
