"""Alembic environment: runs on a connection handed in by `store.migrate`, or on its own.

`store.migrate.migrate()` passes an open connection in `config.attributes["connection"]` (the
"connection sharing" recipe), so migrations run inside the caller's event loop and transaction.
From the command line there is none, and this file connects to `DATABASE_URL` itself.
"""

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

from store.db import database_url, make_engine
from store.models import Base

target_metadata = Base.metadata


def run_on(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata)
    with context.begin_transaction():
        context.run_migrations()


async def run_standalone() -> None:
    engine = make_engine(database_url())
    try:
        async with engine.begin() as connection:
            await connection.run_sync(run_on)
    finally:
        await engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (--sql) mode is not supported; run against a database")

shared = context.config.attributes.get("connection")
if shared is not None:
    run_on(shared)
else:
    asyncio.run(run_standalone())
