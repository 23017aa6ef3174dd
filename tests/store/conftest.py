"""Store fixtures: every test runs on SQLite (a temp file) and on PostgreSQL.

Each test module gets its own migrated database per backend; each test starts from empty
tables. PostgreSQL is reached at `TEST_POSTGRES_URL` (default below), where a throw-away
database `ft_test_<uuid>` is created and dropped. Without a server the PostgreSQL cases are
skipped, unless `CI` is set: there a missing database is a failure, not a skip.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

import pytest
from sqlalchemy import delete, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from store import Base, Store, migrate

PG_ADMIN_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)


@asynccontextmanager
async def fresh_database(backend: str, tmp_dir: Path) -> AsyncIterator[str]:
    """The URL of a new, empty database on `backend`, removed afterwards."""
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_dir / f'{uuid.uuid4().hex}.db'}"
        return

    name = f"ft_test_{uuid.uuid4().hex}"
    # CREATE/DROP DATABASE cannot run in a transaction; a short timeout keeps a missing
    # server from hanging the suite.
    admin = create_async_engine(
        PG_ADMIN_URL, isolation_level="AUTOCOMMIT", connect_args={"timeout": 3}
    )
    try:
        try:
            async with admin.connect() as connection:
                await connection.execute(text("SELECT 1"))
        except Exception as error:  # whatever the driver raises for "no server there"
            message = f"PostgreSQL not reachable at {PG_ADMIN_URL}: {error!r}"
            if os.environ.get("CI"):
                pytest.fail(message)
            pytest.skip(message)
        async with admin.connect() as connection:
            await connection.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
        finally:
            async with admin.connect() as connection:
                await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        await admin.dispose()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
async def db_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[str]:
    """A migrated database for this module, on each backend in turn."""
    async with fresh_database(request.param, tmp_path_factory.mktemp("store")) as url:
        await migrate(url)
        yield url


@pytest.fixture
def new_database(db_url: str, tmp_path: Path) -> Callable[[], AbstractAsyncContextManager[str]]:
    """Makes another empty, unmigrated database on the same backend as `db_url`."""
    backend = make_url(db_url).get_backend_name()
    return lambda: fresh_database(backend, tmp_path)


@pytest.fixture(scope="module")
async def module_store(db_url: str) -> AsyncIterator[Store]:
    store = Store.from_url(db_url)
    yield store
    await store.close()


@pytest.fixture
async def store(module_store: Store) -> Store:
    """The module's store with every table emptied."""
    async with module_store.sessions.begin() as session:
        for table in reversed(Base.metadata.sorted_tables):
            await session.execute(delete(table))
    return module_store


@pytest.fixture
async def family_id(store: Store) -> str:
    """A stored family, which most rows refer to."""
    family = await store.families.upsert("F1001", "Rivera", email="rivera@example.org")
    return family.family_id
