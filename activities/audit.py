"""Audit rows for steps that have no side effect of their own: waits, skips, fallbacks."""

from __future__ import annotations

from collections.abc import Iterable

from temporalio import activity

from contracts import StepOutcome
from store import Store
from store.audit import step_for
from store.models import StepExecution


def outcome_row(outcome: StepOutcome) -> StepExecution:
    """The audit row of a step outcome; keyed by step, outcome and attempt count."""
    ref = outcome.ref
    return step_for(
        ref,
        key=f"{ref.idempotency_key}/{outcome.outcome}/{outcome.attempts}",
        family_id=outcome.family_id,
        kind=outcome.kind,
        channel=None if outcome.channel is None else outcome.channel.value,
        outcome=outcome.outcome,
        attempts=outcome.attempts,
        error_type=outcome.error_type,
    )


async def record_outcomes(store: Store, outcomes: Iterable[StepOutcome]) -> None:
    """Store the rows in order, in one transaction; a row already stored under its key is
    left as it is."""
    await store.steps.add_many([outcome_row(outcome) for outcome in outcomes])


class AuditActivities:
    """Writes one PII-free audit row per step outcome; a retry writes nothing twice."""

    def __init__(self, store: Store) -> None:
        self._store = store

    @activity.defn
    async def record_step(self, request: StepOutcome) -> None:
        """Record how a step ended; keyed by step, outcome and attempt count."""
        await record_outcomes(self._store, [request])

    @activity.defn
    async def record_steps(self, requests: list[StepOutcome]) -> None:
        """Record how several steps ended, in order (the rows a run still carried)."""
        await record_outcomes(self._store, requests)
