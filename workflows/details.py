"""Where a sequence stands, in words, for the Temporal Web UI's "current details".

Pure: its inputs are the sequence's status and `workflow.now()`; local times are in the
family's time zone (imported through `imports_passed_through`, as `workflows.timing` is).
No names or addresses: the status carries none.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from contracts import InterventionStatus, State, StepRecord

_ENDED = {State.COMPLETED: "completed", State.FAILED: "failed", State.CANCELLED: "cancelled"}


def current_details(status: InterventionStatus, now: datetime) -> str:
    """E.g. "awaiting approval of a call since 10:02 local (roles: coordinator)"."""
    zone = ZoneInfo(status.family.timezone if status.family else "UTC")

    def local(at: datetime) -> str:
        wall, today = at.astimezone(zone), now.astimezone(zone)
        day = "" if wall.date() == today.date() else f"{wall:%a %d %b} "
        return f"{day}{wall:%H:%M} local"

    step = _current(status)
    pending = status.pending_approval
    if status.state == State.AWAITING_APPROVAL and pending is not None:
        record = _find(status, pending.step_id)
        what = f"a {record.kind}" if record and record.kind in ("call", "task") else "a step"
        line = f"awaiting approval of {what} ({pending.step_id}) since {local(pending.since)}"
        if pending.decide_by is not None:
            line += f", decide by {local(pending.decide_by)}"
        return f"{line} (roles: {', '.join(pending.roles)})"
    if status.state in _ENDED:
        return f"{_ENDED[status.state]}: {status.outcome or 'no outcome recorded'}"
    if status.state == State.PAUSED:
        error = f": {step.error}" if step and step.error else ""
        return f"paused at {status.current_step or 'a step'}{error}; waiting for resume or skip"
    if status.state == State.COMPENSATING:
        return "called off: undoing what it did, newest first"
    doing = f"{step.summary}" if step else "starting"
    if status.next_action_at is not None:
        return f"{doing}; next action {local(status.next_action_at)}"
    return doing


def _current(status: InterventionStatus) -> StepRecord | None:
    return _find(status, status.current_step) if status.current_step else None


def _find(status: InterventionStatus, step_id: str) -> StepRecord | None:
    for record in reversed(status.steps):
        if record.step_id == step_id:
            return record
    return None
