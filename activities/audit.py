"""Audit rows for steps that have no side effect of their own: waits, skips, fallbacks."""

from __future__ import annotations

from temporalio import activity

from contracts import StepOutcome
from store import Store
from store.audit import step_for


class AuditActivities:
    """Writes one PII-free audit row per step outcome; a retry writes nothing twice."""

    def __init__(self, store: Store) -> None:
        self._store = store

    @activity.defn
    async def record_step(self, request: StepOutcome) -> None:
        """Record how a step ended; keyed by step, outcome and attempt count."""
        ref = request.ref
        await self._store.steps.add(
            step_for(
                ref,
                key=f"{ref.idempotency_key}/{request.outcome}/{request.attempts}",
                family_id=request.family_id,
                kind=request.kind,
                channel=None if request.channel is None else request.channel.value,
                outcome=request.outcome,
                attempts=request.attempts,
                error_type=request.error_type,
            )
        )
