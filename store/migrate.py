"""Bring a database's schema up to date: `alembic upgrade head`, run from code."""

from __future__ import annotations

import asyncio
import weakref
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.engine import Connection

from store.db import make_engine

MIGRATIONS = Path(__file__).resolve().parent / "migrations"

# Any constant works; it only has to be the same for every process migrating this database.
_PG_MIGRATION_LOCK = 4_211_001

# Alembic keeps the running migration in module globals (`alembic.context`, `alembic.op`), so two
# upgrades interleaving in one event loop corrupt each other ("table already exists",
# KeyError 'script'). Upgrades in one process therefore take turns; other processes are kept
# apart by the database lock below.
_TURNS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
    weakref.WeakKeyDictionary()
)


def alembic_config() -> Config:
    """An Alembic configuration that does not depend on the working directory or an ini file."""
    config = Config()
    # Options are %-interpolated; escape so a path containing "%" survives.
    config.set_main_option("script_location", str(MIGRATIONS).replace("%", "%%"))
    config.set_main_option("path_separator", "os")
    return config


def _upgrade(connection: Connection, config: Config) -> None:
    if connection.dialect.name == "postgresql":
        # Several processes (worker, starter) may migrate at start-up; the second waits here
        # and then finds the schema at head. SQLite gets the same from BEGIN IMMEDIATE.
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK})
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


async def migrate(url: str) -> None:
    """Apply every pending migration to the database at `url`; a no-op when up to date."""
    turn = _TURNS.setdefault(asyncio.get_running_loop(), asyncio.Lock())
    async with turn:
        await _migrate(url)


async def _migrate(url: str) -> None:
    engine = make_engine(url)
    try:
        # One transaction: the lock, the DDL and the version stamp commit (or fail) together.
        async with engine.begin() as connection:
            await connection.run_sync(_upgrade, alembic_config())
    finally:
        await engine.dispose()
