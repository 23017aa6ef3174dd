"""Continue-as-new for looping data-defined sequences: carry the state, rebuild the undos.

Used by `TemplateIntervention` only. A template may loop (a reminder every week until the
family answers); each pass through the loop is a new run, so:
- one run's history holds one pass, far below Temporal's history limits however long the
  sequence lives;
- a step that runs again is a new side effect with a new idempotency key (the key carries the
  run id), so the second reminder is sent, not taken for a retry of the first.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities import TaskActivities
    from activities.webhook import WebhookActivities
    from contracts import CancelTaskRequest, InterventionStart
    from contracts.carry import CarriedState, CarriedUndo, TemplateStart
    from workflows.blocks import SHORT_ACTIVITY

from workflows.audit import settle_audits

if TYPE_CHECKING:
    from workflows.template import TemplateIntervention

# Kept small: the log is for people; the decisions a gate still needs travel whole.
DECISION_LOG_KEPT = 50
# Step records of earlier runs kept for the status; a record an undo needs is always kept.
EARLIER_STEPS_KEPT = 200
# Marks where runs started continuing as new; older histories looped within one run.
LOOP_PATCH = "continue-as-new-on-loop"


def undo_action(undo: CarriedUndo) -> Callable[[], Awaitable[None]]:
    """The compensation an undo record describes, as the closure `_compensate` runs."""

    async def run() -> None:
        if undo.kind == "cancel_task":
            assert undo.task_id is not None
            await workflow.execute_activity_method(
                TaskActivities.cancel_task,
                CancelTaskRequest(ref=undo.ref, task_id=undo.task_id, reason="sequence called off"),
                start_to_close_timeout=SHORT_ACTIVITY,
                retry_policy=RetryPolicy(maximum_attempts=10),
                summary=undo.summary or f"Undo: cancel task {undo.task_id}",
            )
            return
        assert undo.request is not None
        await workflow.execute_activity_method(
            WebhookActivities.call_webhook,
            undo.request,
            start_to_close_timeout=SHORT_ACTIVITY,
            retry_policy=RetryPolicy(maximum_attempts=10),
            summary=undo.summary,
        )

    return run


def restore(sequence: TemplateIntervention, carried: CarriedState) -> None:
    """Take over the state an earlier run carried (called from the workflow's init)."""
    sequence.passes = carried.passes
    sequence.resume_at = carried.next_step
    sequence.last_outcome = carried.last_outcome
    sequence.responses = list(carried.responses)
    sequence.decisions = list(carried.decisions)
    sequence.decision_log = list(carried.decision_log)
    sequence.events = list(carried.events)
    sequence.escalations = dict(carried.escalations)
    sequence.steps.update(carried.earlier_steps)
    sequence.carried_keys.update(carried.earlier_steps)
    for undo in carried.undos:
        sequence.undo_data[undo.key] = undo
        sequence.compensations.append((undo.key, undo_action(undo)))


def carry(sequence: TemplateIntervention, next_step: str) -> CarriedState | None:
    """The state to carry into the next run; None when an undo cannot be described as data."""
    run_number = sequence.passes + 1

    def earlier_key(key: str) -> str:
        # The same step may run again in a later pass: this pass's record gets its own key.
        return key if key in sequence.carried_keys else f"{key}_run{run_number}"

    undos = []
    for key, _ in sequence.compensations:
        undo = sequence.undo_data.get(key)
        if undo is None:
            return None
        undos.append(undo.model_copy(update={"key": earlier_key(key)}))
    earlier = {earlier_key(key): record for key, record in sequence.steps.items()}
    needed = {undo.key for undo in undos}
    keys = list(earlier)
    kept = set(keys[-EARLIER_STEPS_KEPT:]) | needed
    return CarriedState(
        next_step=next_step,
        passes=run_number,
        last_outcome=sequence.last_outcome,
        responses=sequence.responses,
        decisions=sequence.decisions,
        decision_log=sequence.decision_log[-DECISION_LOG_KEPT:],
        events=sequence.events,
        escalations=sequence.escalations,
        undos=undos,
        earlier_steps={key: record for key, record in earlier.items() if key in kept},
    )


async def continue_from(sequence: TemplateIntervention, next_step: str) -> None:
    """End this run and go on at `next_step` in a new one; returns only if it cannot."""
    carried = carry(sequence, next_step)
    if carried is None:
        return
    # A signal or update being handled right now must land in this run's state first, and
    # the audit writes still under way in this run must finish in it.
    await settle_audits(sequence)
    await workflow.wait_condition(workflow.all_handlers_finished)
    carried = carry(sequence, next_step) or carried
    start = TemplateStart(
        **{name: getattr(sequence.start, name) for name in InterventionStart.model_fields},
        carried=carried,
    ).model_copy(update={"family": None})  # the next run reads the family afresh
    workflow.continue_as_new(start, search_attributes=workflow.info().typed_search_attributes)
