"""`followthrough audit --family ID`: everything done for a family, from the store alone.

Read from `step_executions` (the PII-free audit trail), the outbox's delivery statuses and
the holdout decisions (`sequence_starts`: a family held out has no steps to show), never
from Temporal, so it answers years later, after the histories are gone. No message
bodies, names or addresses are printed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from followthrough.operations import OperationError
from store import Store


class AuditError(OperationError):
    """The audit cannot be produced; the message names the field."""


@dataclass(frozen=True)
class FamilyAudit:
    family_id: str
    opted_out: list[str]
    lines: list[str]
    steps: list[dict[str, Any]] = field(default_factory=list)  # the same rows, as data


async def family_audit(store: Store, family_id: str) -> FamilyAudit:
    """One line per audited step, oldest first, across every sequence of the family."""
    family = await store.families.get(family_id)
    if family is None:
        raise AuditError(f"family: no family with id {family_id!r}")
    statuses = {m.idempotency_key: m.status for m in await store.messages.for_family(family_id)}
    lines: list[tuple[datetime, str]] = []
    steps: list[dict[str, Any]] = []
    for row in await store.steps.for_family(family_id):
        when = row.created_at.isoformat(timespec="seconds")
        line = (
            f"{when}  {row.template} v{row.template_version}  {row.step_id:<26} "
            f"{row.kind:<10} {row.channel or '-':<6} {row.outcome}"
        )
        if row.attempts > 1:
            line += f"  attempts={row.attempts}"
        if row.error_type:
            line += f"  error={row.error_type}"
        if row.idempotency_key in statuses:
            line += f"  message {row.provider_message_id}: {statuses[row.idempotency_key]}"
        elif row.provider_message_id:
            line += f"  ref {row.provider_message_id}"
        if row.prediction_id is not None:
            line += f"  prediction {row.prediction_id}"
        line += f"  ({row.workflow_id})"
        lines.append((row.created_at, line))
        steps.append(
            {
                "at": row.created_at,
                "workflow_id": row.workflow_id,
                "template": row.template,
                "template_version": row.template_version,
                "step_id": row.step_id,
                "kind": row.kind,
                "channel": row.channel,
                "outcome": row.outcome,
                "attempts": row.attempts,
                "error_type": row.error_type,
                "provider_message_id": row.provider_message_id,
                "message_status": statuses.get(row.idempotency_key),
                "prediction_id": row.prediction_id,
            }
        )
    lines += await _holdouts(store, family_id)
    ordered = [line for _, line in sorted(lines, key=lambda pair: pair[0])]
    return FamilyAudit(family_id, list(family.opted_out or []), ordered, steps)


async def _holdouts(store: Store, family_id: str) -> list[tuple[datetime, str]]:
    """One line per holdout decision: the template, the version it would have run."""
    lines = []
    for decision in await store.outcomes.decisions(family_id=family_id):
        if not decision.held_out:
            continue
        when = decision.decided_at.isoformat(timespec="seconds")
        line = f"{when}  {decision.template} v{decision.version}  held out: no sequence"
        if decision.prediction_id is not None:
            line += f"  prediction {decision.prediction_id}"
        lines.append((decision.decided_at, line))
    return lines
