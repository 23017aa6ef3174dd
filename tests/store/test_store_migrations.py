"""The migrations create exactly the models' schema, and re-running them changes nothing."""

import asyncio
import sys
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

from store import Base, Store, make_engine, migrate
from store.migrate import alembic_config


def _head() -> str:
    # The single head of the revision chain, whichever revision that is today.
    heads = ScriptDirectory.from_config(alembic_config()).get_heads()
    assert len(heads) == 1, f"the migrations have more than one head: {heads}"
    return heads[0]


async def _version(url: str) -> list[str]:
    engine = make_engine(url)
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(text("SELECT version_num FROM alembic_version"))
            return [row[0] for row in rows]
    finally:
        await engine.dispose()


async def test_migrate_twice_is_a_no_op(db_url: str) -> None:
    await migrate(db_url)
    await migrate(db_url)

    assert await _version(db_url) == [_head()]


async def test_concurrent_migrations_on_a_fresh_database(
    new_database: Callable[[], AbstractAsyncContextManager[str]],
) -> None:
    async with new_database() as url:
        await asyncio.gather(migrate(url), migrate(url))

        assert await _version(url) == [_head()]


async def test_processes_migrating_a_fresh_database_at_once_all_succeed(
    new_database: Callable[[], AbstractAsyncContextManager[str]],
) -> None:
    # How it happens for real: `followthrough dev` starts the worker and the web app together.
    code = "import asyncio, sys; from store import migrate; asyncio.run(migrate(sys.argv[1]))"
    async with new_database() as url:
        processes = [
            await asyncio.create_subprocess_exec(
                sys.executable, "-c", code, url, stderr=asyncio.subprocess.PIPE
            )
            for _ in range(3)
        ]
        errors = [(await process.communicate())[1].decode() for process in processes]

        assert [process.returncode for process in processes] == [0, 0, 0], errors
        assert await _version(url) == [_head()]


async def test_migrated_schema_matches_the_models(db_url: str) -> None:
    def inspect_schema(connection: Connection) -> tuple[list[object], dict[str, set[str]]]:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
        inspector = inspect(connection)
        columns = {
            table: {column["name"] for column in inspector.get_columns(table)}
            for table in inspector.get_table_names()
        }
        return diff, columns

    engine = make_engine(db_url)
    try:
        async with engine.connect() as connection:
            diff, columns = await connection.run_sync(inspect_schema)
    finally:
        await engine.dispose()

    assert diff == []
    for table in Base.metadata.sorted_tables:
        assert columns.get(table.name) == {column.name for column in table.columns}, table.name


async def test_foreign_keys_are_enforced(store: Store) -> None:
    # On SQLite this depends on PRAGMA foreign_keys=ON at connect.
    with pytest.raises(Exception, match=r"(?i)foreign key"):
        await store.predictions.add("F-missing", 0.9, 90.0)


async def test_the_whatsapp_columns_leave_existing_families_unchanged(
    new_database: Callable[[], AbstractAsyncContextManager[str]],
) -> None:
    def upgrade(connection: Connection, revision: str) -> None:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, revision)

    async with new_database() as url:
        engine = make_engine(url)
        try:
            async with engine.begin() as connection:
                await connection.run_sync(upgrade, "i9_sequence_starts")
                await connection.execute(
                    text(
                        "INSERT INTO families (family_id, name, email, phone, timezone, "
                        "opted_out, attributes, created_at, updated_at) VALUES ('OLD', 'Old', "
                        "'old@example.org', '+15550100009', 'UTC', '[\"sms\"]', '{}', "
                        "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                    )
                )
            async with engine.begin() as connection:
                await connection.run_sync(upgrade, "head")
        finally:
            await engine.dispose()
        store = Store.from_url(url)
        try:
            family = await store.families.get("OLD")
        finally:
            await store.close()
    assert family is not None
    assert (family.email, family.phone, family.opted_out) == (
        "old@example.org",
        "+15550100009",
        ["sms"],
    )
    assert (family.whatsapp, family.whatsapp_opt_in) == (None, False)
