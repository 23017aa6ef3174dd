"""Writes keyed by an idempotency key: the unique constraint, not a prior read, decides."""

from __future__ import annotations

from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from store.db import read_session
from store.models import CoordinatorTask, Message, StepExecution

Sessions = async_sessionmaker[AsyncSession]
"""What every repository is built with: `store.db.make_sessionmaker(engine)`."""
_Keyed = TypeVar("_Keyed", CoordinatorTask, Message, StepExecution)

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
