"""Audit rows for the steps whose activities write none: a wait, a skip, a fallback.

Sends, condition checks and tasks record their own row inside their activity. The others
would leave a gap in "what happened to this family", so they record one here, through a
local activity: one marker event in the history instead of the three of an activity, and
only at the end of such a step. Guarded by `workflow.patched("audit-every-step")` so that
histories from before it replay unchanged.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import TYPE_CHECKING

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.audit import AuditActivities
    from contracts import StepOutcome, StepRecord

if TYPE_CHECKING:
    from workflows.blocks import Intervention

_ERROR_TYPE = re.compile(r"^([A-Z][A-Za-z]+):")


def error_type(error: str | None) -> str | None:
    """`HardBounce` from `HardBounce: provider refused ...`; a named reason for the rest."""
    if not error:
        return None
    match = _ERROR_TYPE.match(error)
    if match:
        return match.group(1)
    return "NoUsableChannel" if "no usable" in error else "StepFailed"


async def audit_step(flow: Intervention, record: StepRecord, outcome: str) -> None:
    """Write the audit row of a step that ended without writing one itself."""
    if not workflow.patched("audit-every-step"):
        return
    await workflow.execute_local_activity_method(
        AuditActivities.record_step,
        StepOutcome(
            ref=flow._ref(record.step_id),
            family_id=flow.start.family_id,
            kind=record.kind,
            outcome=outcome,
            attempts=max(record.attempts, 1),
            channel=record.channel,
            error_type=error_type(record.error) if record.status != "done" else None,
        ),
        start_to_close_timeout=timedelta(seconds=10),
        summary=f"Audit: {record.step_id} {outcome}",
    )
