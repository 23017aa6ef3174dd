"""The step audit trail: what each sequence did, with no message bodies or addresses."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import inspect, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from contracts import StepRef
from store.db import reading, writing
from store.models import StepExecution
from store.unique import Sessions, insert_once


def step_for(
    ref: StepRef,
    *,
    family_id: str,
    kind: str,
    outcome: str,
    attempts: int,
    key: str | None = None,
    step_id: str | None = None,
    channel: str | None = None,
    provider_message_id: str | None = None,
    error_type: str | None = None,
) -> StepExecution:
    """The audit row of a step an activity ran, not yet stored: the ids come from its
    `StepRef`. `StepExecutionRepository.add` stores it; a send stores it with its
    outbox row (`MessageRepository.record(audit=...)`)."""
    timing = ref.timing
    return StepExecution(
        due_at=None if timing is None else timing.due_at,
        started_at=None if timing is None else timing.started_at,
        due_reason=None if timing is None else (timing.due_reason or ""),
        idempotency_key=key or ref.idempotency_key,
        workflow_id=ref.workflow_id,
        run_id=ref.run_id,
        step_id=step_id or ref.step_id,
        family_id=family_id,
        template=ref.template,
        template_version=ref.template_version,
        prediction_id=ref.prediction_id,
        kind=str(kind),
        channel=None if channel is None else str(channel),
        provider_message_id=provider_message_id,
        attempts=attempts,
        outcome=str(outcome),
        error_type=error_type,
    )


_STEPS = StepExecution.metadata.tables[StepExecution.__tablename__]


def add_steps_once(session: Session, steps: Sequence[StepExecution]) -> None:
    """Inside a write transaction: insert audit rows built by `step_for`, in order; a row
    already stored under its key is left as it is (a retry writes nothing twice).

    One `INSERT … ON CONFLICT DO NOTHING`, with no ORM flush or savepoint around it: nothing
    reads these rows back in the transaction. Any other failed constraint (an unknown family)
    still raises.
    """
    if not steps:
        return
    dialect = session.get_bind().dialect.name
    insert = sqlite.insert if dialect == "sqlite" else postgresql.insert
    statement = insert(_STEPS).on_conflict_do_nothing(index_elements=["idempotency_key"])
    session.execute(statement, [_columns(step) for step in steps])


def _columns(step: StepExecution) -> dict[str, Any]:
    given = inspect(step).dict
    columns = inspect(StepExecution).column_attrs
    return {column.key: given[column.key] for column in columns if column.key in given}


class StepExecutionRepository:
    """The PII-free audit trail: one row per step a sequence finished."""

    def __init__(self, sessions: Sessions) -> None:
        self._sessions = sessions

    async def record(
        self,
        *,
        idempotency_key: str,
        workflow_id: str,
        run_id: str,
        step_id: str,
        family_id: str,
        template: str,
        template_version: int,
        prediction_id: int | None,
        kind: str,
        channel: str | None,
        provider_message_id: str | None,
        attempts: int,
        outcome: str,
        error_type: str | None,
    ) -> tuple[StepExecution, bool]:
        """Record a step, or return the one recorded under this key (and False)."""
        step = StepExecution(
            idempotency_key=idempotency_key,
            workflow_id=workflow_id,
            run_id=run_id,
            step_id=step_id,
            family_id=family_id,
            template=template,
            template_version=template_version,
            prediction_id=prediction_id,
            kind=str(kind),
            channel=None if channel is None else str(channel),
            provider_message_id=provider_message_id,
            attempts=attempts,
            outcome=str(outcome),
            error_type=error_type,
        )
        return await insert_once(self._sessions, step)

    async def add(self, step: StepExecution) -> tuple[StepExecution, bool]:
        """Store a row built by `step_for`, or return the one recorded under its key."""
        return await insert_once(self._sessions, step)

    async def add_many(self, steps: Sequence[StepExecution]) -> None:
        """Store rows built by `step_for` in order, in one transaction; a row already stored
        under its key is left as it is."""
        if steps:
            await writing(self._sessions, lambda session: add_steps_once(session, steps))

    async def get_by_key(self, key: str) -> StepExecution | None:
        """The step recorded under an idempotency key, or None."""
        query = select(StepExecution).where(StepExecution.idempotency_key == key)
        return await reading(self._sessions, lambda session: session.scalar(query))

    async def run_ids(self, keys: Sequence[str]) -> dict[str, str]:
        """The run that wrote each of these idempotency keys (a message's, a task's), by key:
        the run a message or task belongs to, whatever runs under its workflow id now."""
        if not keys:
            return {}
        query = select(StepExecution.idempotency_key, StepExecution.run_id).where(
            StepExecution.idempotency_key.in_(sorted(set(keys)))
        )
        rows = await reading(self._sessions, lambda session: list(session.execute(query)))
        return {key: run_id for key, run_id in rows if run_id}

    async def for_family(self, family_id: str) -> list[StepExecution]:
        """A family's steps across all sequences, in time order."""
        return await self._where(StepExecution.family_id == family_id)

    async def for_workflow(self, workflow_id: str) -> list[StepExecution]:
        """One sequence's steps, in time order."""
        return await self._where(StepExecution.workflow_id == workflow_id)

    async def _where(self, condition: Any) -> list[StepExecution]:
        query = (
            select(StepExecution)
            .where(condition)
            .order_by(StepExecution.created_at, StepExecution.id)
        )
        return await reading(self._sessions, lambda session: list(session.scalars(query)))
