"""Audit rows for steps that have no side effect of their own: waits, skips, fallbacks."""

from __future__ import annotations

from temporalio import activity

from contracts import StepOutcome
from store import Store


class AuditActivities:
    """Writes one PII-free audit row per step outcome; a retry writes nothing twice."""

    def __init__(self, store: Store) -> None:
        self._store = store

    @activity.defn
    async def record_step(self, request: StepOutcome) -> None:
        """Record how a step ended; keyed by step, outcome and attempt count."""
        ref = request.ref
        await self._store.steps.record(
            idempotency_key=f"{ref.idempotency_key}/{request.outcome}/{request.attempts}",
            workflow_id=ref.workflow_id,
            run_id=ref.run_id,
            step_id=ref.step_id,
            family_id=request.family_id,
            template=ref.template,
            template_version=ref.template_version,
            prediction_id=ref.prediction_id,
            kind=request.kind,
            channel=None if request.channel is None else request.channel.value,
            provider_message_id=None,
            attempts=request.attempts,
            outcome=request.outcome,
            error_type=request.error_type,
        )
