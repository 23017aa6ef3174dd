"""Reads on SQLite do not take the write lock; writes still take it up front."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import text

from store import Store, migrate
from store.db import read_session


async def test_reads_go_on_while_a_writer_holds_the_lock(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'store.db'}"
    await migrate(url)
    async with (
        Store.from_url(url) as writer,
        Store.from_url(url) as reader,
        writer.sessions.begin() as session,
    ):
        # BEGIN IMMEDIATE: this connection now holds SQLite's write lock.
        await session.execute(text("SELECT 1"))
        # With the lock taken, a read that also asked for it would wait out busy_timeout.
        assert await asyncio.wait_for(reader.templates.list_latest(), timeout=2) == []
        assert await asyncio.wait_for(reader.families.get("nobody"), timeout=2) is None


async def test_a_read_session_begins_deferred_and_a_write_immediate(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'store.db'}"
    await migrate(url)
    async with Store.from_url(url) as store:
        async with read_session(store.sessions) as session:
            connection = await session.connection()
            assert connection.sync_connection is not None
            options = connection.sync_connection.get_execution_options()
            assert options.get("sqlite_begin") == "DEFERRED"
        async with store.sessions.begin() as session:
            connection = await session.connection()
            assert connection.sync_connection is not None
            assert "sqlite_begin" not in connection.sync_connection.get_execution_options()
