"""Writes keyed by an idempotency key: the unique constraint, not a prior read, decides."""

from __future__ import annotations

from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm.attributes import instance_state

from store.db import read_session
from store.models import CoordinatorTask, Message, StepExecution

Sessions = async_sessionmaker[AsyncSession]
"""What every repository is built with: `store.db.make_sessionmaker(engine)`."""
_Keyed = TypeVar("_Keyed", CoordinatorTask, Message, StepExecution)
_Other = TypeVar("_Other", CoordinatorTask, Message, StepExecution)

# How often a write that lost a race on a unique constraint is retried from a fresh read.
RACE_ATTEMPTS = 3


async def insert_once(sessions: Sessions, row: _Keyed) -> tuple[_Keyed, bool]:
    """Insert `row`, or return the row already stored under its idempotency key.

    The unique constraint decides, not a read beforehand: of two concurrent inserts with the
    same key exactly one commits, and the other reads the winner's row.
    """
    try:
        async with sessions.begin() as session:
            session.add(row)
        return row, True
    except IntegrityError:
        model = type(row)
        async with read_session(sessions) as session:
            existing = await session.scalar(
                select(model).where(model.idempotency_key == row.idempotency_key)
            )
        if existing is None:
            raise  # another constraint failed (e.g. an unknown family), not the key
        return existing, False


async def insert_both_once(
    sessions: Sessions, first: _Keyed, second: _Other
) -> tuple[tuple[_Keyed, bool], tuple[_Other, bool]]:
    """`insert_once` for two rows under their own keys, in one transaction when both are new.

    When either key is taken (a retry, a concurrent duplicate) the transaction rolls back and
    each row goes through `insert_once` on its own: the one stored under its key is returned
    (and False), a missing one is inserted. Same answers as two `insert_once` calls.
    """
    # Fresh copies for the fallback: rows from a rolled-back flush keep state of that flush.
    fields = [_set_columns(first), _set_columns(second)]
    try:
        async with sessions.begin() as session:
            session.add_all([first, second])
        return (first, True), (second, True)
    except IntegrityError:
        pass
    return (
        await insert_once(sessions, type(first)(**fields[0])),
        await insert_once(sessions, type(second)(**fields[1])),
    )


def _set_columns(row: CoordinatorTask | Message | StepExecution) -> dict[str, object]:
    state = instance_state(row)
    return {
        attr.key: state.dict[attr.key]
        for attr in state.mapper.column_attrs
        if attr.key in state.dict
    }
