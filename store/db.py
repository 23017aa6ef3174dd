"""Engine and session factories for the store, configured from `DATABASE_URL`."""

from __future__ import annotations

import asyncio
import os
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///.data/followthrough.db"

# The execution option `read_session` sets on its engine: how `_on_begin` begins on SQLite.
_BEGIN_OPTION = "sqlite_begin"
# One read-only view per engine, sharing its pool; dropped with the engine.
_READERS: weakref.WeakKeyDictionary[AsyncEngine, AsyncEngine] = weakref.WeakKeyDictionary()

# Bare schemes (as hosting platforms hand them out) mapped to the async drivers we ship.
_ASYNC_DRIVERS = {
    "sqlite": "sqlite+aiosqlite",
    "postgres": "postgresql+asyncpg",
    "postgresql": "postgresql+asyncpg",
}


def database_url() -> str:
    """The store's URL: `DATABASE_URL` from the environment, else a local SQLite file."""
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
    _configure_sqlite(engine)
    return engine


def _configure_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
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

    @event.listens_for(engine.sync_engine, "begin")
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
    steps of up to 100 ms and gives up after `busy_timeout` ("database is locked"); measured
    (BENCHMARKS.md): under 100 concurrent activities writers waited out the 5 s timeout and
    their activities were retried. Here the next writer starts as soon as the last commits.
    Other processes (the CLI, the receiver) still meet the busy handler, as before. Reads
    (`read_session`) do not queue.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._turn = asyncio.Lock()

    @asynccontextmanager
    async def begin(self) -> AsyncIterator[AsyncSession]:  # type: ignore[override]
        async with self._turn, super().begin() as session:
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
