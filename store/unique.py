"""Writes keyed by an idempotency key: the unique constraint, not a prior read, decides."""

from __future__ import annotations

from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

from store.db import writing
from store.models import CoordinatorTask, Message, StepExecution

Sessions = async_sessionmaker[AsyncSession]
"""What every repository is built with: `store.db.make_sessionmaker(engine)`."""
_Keyed = TypeVar("_Keyed", CoordinatorTask, Message, StepExecution)

# How often a write that lost a race on a unique constraint is retried from a fresh read.
RACE_ATTEMPTS = 3


def add_once(session: Session, row: _Keyed) -> tuple[_Keyed, bool]:
    """Inside a write transaction: insert `row`, or return the row already stored under its
    idempotency key (and False).

    The unique constraint decides, not a read beforehand: of two concurrent inserts with the
    same key exactly one commits, and the other reads the winner's row. The insert runs in a
    savepoint, so losing the race leaves the rest of the transaction as it was.
    """
    try:
        with session.begin_nested():
            session.add(row)
        return row, True
    except IntegrityError:
        model = type(row)
        existing = session.scalar(select(model).where(model.idempotency_key == row.idempotency_key))
        if existing is None:
            raise  # another constraint failed (e.g. an unknown family), not the key
        return existing, False


async def insert_once(sessions: Sessions, row: _Keyed) -> tuple[_Keyed, bool]:
    """`add_once` in a transaction of its own."""
    return await writing(sessions, lambda session: add_once(session, row))
