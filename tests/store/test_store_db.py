"""`reading` and `writing`: a transaction as one function, on a store thread for a SQLite file."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from store import Family, Store, db, migrate
from store.db import reading, writing


def _thread(_session: Session) -> str:
    return threading.current_thread().name


async def test_on_a_sqlite_file_each_transaction_runs_on_a_store_thread(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'store.db'}"
    await migrate(url)
    async with Store.from_url(url) as store:
        assert (await reading(store.sessions, _thread)).startswith("store-read")
        assert (await writing(store.sessions, _thread)).startswith("store-write")


async def test_in_memory_runs_on_the_async_session() -> None:
    # Every connection to ":memory:" is a database of its own: no second engine there.
    async with Store.from_url("sqlite+aiosqlite:///:memory:") as store:
        assert await writing(store.sessions, _thread) == threading.current_thread().name


async def test_a_write_that_raises_is_rolled_back(store: Store) -> None:
    def add_then_fail(session: Session) -> None:
        session.add(Family(family_id="F-rolled-back", name="Nobody"))
        session.flush()
        raise RuntimeError("after the insert")

    with pytest.raises(RuntimeError, match="after the insert"):
        await writing(store.sessions, add_then_fail)
    assert await store.families.get("F-rolled-back") is None


async def test_rows_stay_readable_after_the_transaction(store: Store, family_id: str) -> None:
    family = await reading(
        store.sessions,
        lambda session: session.scalar(select(Family).where(Family.family_id == family_id)),
    )
    assert family is not None and family.email == "rivera@example.org"


async def test_a_writer_waits_for_the_one_in_an_async_session(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'store.db'}"
    await migrate(url)
    async with Store.from_url(url) as store:
        order: list[str] = []

        def second(session: Session) -> None:
            session.add(Family(family_id="F2", name="Second"))
            order.append("second")

        async with store.sessions.begin() as session:
            session.add(Family(family_id="F1", name="First"))
            waiting = asyncio.create_task(writing(store.sessions, second))
            await asyncio.sleep(0.2)
            # Queued in this process, not inside SQLite's busy handler.
            assert not waiting.done()
            await session.flush()
            order.append("first")
        await waiting
        assert order == ["first", "second"]
        assert [f.family_id for f in await store.families.list()] == ["F1", "F2"]


async def test_closing_the_store_stops_its_threads(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'store.db'}"
    await migrate(url)
    store = Store.from_url(url)
    await reading(store.sessions, lambda session: session.execute(text("SELECT 1")).all())
    assert store.engine is not None
    threads = db._THREADS[store.engine.sync_engine]

    await store.close()

    assert store.engine.sync_engine not in db._THREADS
    with pytest.raises(RuntimeError, match="shutdown"):
        threads.writes.submit(print)
