"""Audit rows for the steps whose activities write none: a wait, a skip, a fallback.

Sends, condition checks and tasks record their own row inside their activity. The others
would leave a gap in "what happened to this family", so they record one here.

A run on today's code (`workflows.versions.CURRENT`) hands the row to the next activity:
a send or a task writes the rows it carries before anything else (`SendRequest.audits`,
`TaskRequest.audits`), so the trail keeps its order and a reply turns into the next send
without a store write in between. Before any other activity that writes a row, at the end
of the run and before it continues as new, `settle_audits` writes what is still carried
through one local activity. Older runs wrote each row through a local activity of its own
(`workflow.patched("audit-every-step")`, later beside the next step); they replay as they
ran.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable
from datetime import timedelta
from typing import TYPE_CHECKING, TypeVar, cast

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.audit import AuditActivities
    from contracts import StepOutcome, StepRecord

from workflows import versions

if TYPE_CHECKING:
    from workflows.blocks import Intervention
    from workflows.runtime import SequenceRuntime

ALONGSIDE_PATCH = "audit-alongside-next-step"
AUDIT_TIMEOUT = timedelta(seconds=10)
_T = TypeVar("_T")

_ERROR_TYPE = re.compile(r"^([A-Z][A-Za-z]+):")


def error_type(error: str | None) -> str | None:
    """`HardBounce` from `HardBounce: provider refused ...`; a named reason for the rest."""
    if not error:
        return None
    match = _ERROR_TYPE.match(error)
    if match:
        return match.group(1)
    return "NoUsableChannel" if "no usable" in error else "StepFailed"


async def audit_step(
    flow: Intervention, record: StepRecord, outcome: str, *, alongside_next: bool = False
) -> None:
    """Write the audit row of a step that ended without writing one itself.

    `alongside_next`: start the write and return at once; the next step's first local
    activity runs beside it (`with_pending_audits`) instead of after it, and `settle_audits`
    waits for it before anything else is sent or the run ends. Measured (BENCHMARKS.md): the
    two local activities in series after a reply were most of the reaction's extra latency.
    """
    lean = versions.current(flow)
    if not lean and not workflow.patched("audit-every-step"):
        return
    row = StepOutcome(
        ref=flow._ref(record.step_id),
        family_id=flow.start.family_id,
        kind=record.kind,
        outcome=outcome,
        attempts=max(record.attempts, 1),
        channel=record.channel,
        error_type=error_type(record.error) if record.status != "done" else None,
    )
    if lean:
        flow.carried_audits.append(row)
        return
    summary = f"Audit: {record.step_id} {outcome}"
    # Histories from before the write ran beside the next step replay in series.
    if alongside_next and workflow.patched(ALONGSIDE_PATCH):
        flow.pending_audits.append(
            workflow.start_local_activity_method(
                AuditActivities.record_step,
                row,
                start_to_close_timeout=AUDIT_TIMEOUT,
                summary=summary,
            )
        )
        return
    await workflow.execute_local_activity_method(
        AuditActivities.record_step, row, start_to_close_timeout=AUDIT_TIMEOUT, summary=summary
    )


async def with_pending_audits(flow: Intervention, handle: Awaitable[_T]) -> _T:
    """`handle`'s result, awaited together with the audit writes still under way."""
    pending, flow.pending_audits = flow.pending_audits, []
    if not pending:
        return await handle
    result, *_ = await asyncio.gather(handle, *pending)
    return cast(_T, result)


async def settle_audits(flow: SequenceRuntime) -> None:
    """Wait for the audit writes still under way, and write the rows still carried (before
    the run ends or continues as new, and before an activity that carries none)."""
    pending, flow.pending_audits = flow.pending_audits, []
    if pending:
        await asyncio.gather(*pending)
    await write_carried(flow)


async def write_carried(flow: SequenceRuntime) -> None:
    """Write the carried rows through one local activity; nothing when none are carried
    (never in a run from before `versions.CURRENT`)."""
    rows = take_carried(flow)
    if rows:
        await workflow.execute_local_activity_method(
            AuditActivities.record_steps,
            rows,
            start_to_close_timeout=AUDIT_TIMEOUT,
            summary="Audit: " + ", ".join(f"{r.ref.step_id} {r.outcome}" for r in rows),
        )


def take_carried(flow: SequenceRuntime) -> list[StepOutcome]:
    """The rows the next activity is to write first; it carries them from here on."""
    rows, flow.carried_audits = flow.carried_audits, []
    return rows
