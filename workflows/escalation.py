"""Escalation: hand a failed step to a person, pause, and act on their answer.

Opens an escalation task carrying the diagnostics (step, error type, message, attempts,
family, workflow id), sets the state `paused` and waits for `resume`, `skip` or `cancel`,
with the template's timeout and `on_timeout` rule. The task is closed once settled.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities import TaskActivities
    from contracts import (
        CancelTaskRequest,
        CloseTaskRequest,
        EscalationAnswer,
        State,
        StepRecord,
        TaskKind,
    )

from workflows import versions
from workflows.runtime import SHORT_ACTIVITY, SequenceCancelled, describe

if TYPE_CHECKING:
    from workflows.blocks import Intervention


async def escalate(seq: Intervention, record: StepRecord) -> str:
    """Hand a failed step to a person: open an escalation task, pause, await an answer."""
    escalation = seq.params.escalation
    seq.escalation_answer = None
    count = seq.escalations[record.step_id] = seq.escalations.get(record.step_id, 0) + 1
    # A second escalation of the same step is a new task, not the first one again.
    task_step = f"{record.step_id}_escalation" + (f"_{count}" if count > 1 else "")
    error_type, _, message = (record.error or "").partition(": ")
    # Older histories left the escalation task open whatever the answer.
    closes = versions.patched(seq, "close-escalation-tasks")
    task_id = await seq._run_task(
        seq._step(task_step, "escalation", "Escalate to a person"),
        TaskKind.ESCALATION,
        f"Step '{record.step_id}' failed: {record.error}",
        compensate=closes,  # a cancel while paused cancels the task too
        details={
            "step": record.step_id,
            "error": record.error,
            "error_type": error_type if message else None,
            "message": message or record.error,
            "attempts": record.attempts,
            "family_id": seq.start.family_id,
            "workflow_id": workflow.info().workflow_id,
        },
    )
    seq.current_step = record.step_id
    seq._set_state(State.PAUSED)
    answered = await seq._wait(
        lambda: seq.escalation_answer is not None,
        escalation.timeout,
        f"Paused: wait up to {describe(escalation.timeout)} for resume or skip",
    )
    if not answered:
        if escalation.on_timeout == "cancel":
            raise SequenceCancelled(f"no answer to the escalation of '{record.step_id}'")
        if closes:
            await close_escalation(seq, task_id, None)
        return "resume" if escalation.on_timeout == "proceed" else "skip"
    assert seq.escalation_answer is not None
    if closes:
        await close_escalation(seq, task_id, seq.escalation_answer)
    return seq.escalation_answer[0]


async def close_escalation(
    seq: Intervention, task_id: int | None, answer: tuple[str, EscalationAnswer] | None
) -> None:
    """Take a settled escalation task out of the inbox: done when answered, else cancelled."""
    # `_escalate` registered the task's undo last; nothing else runs while it is paused.
    step_id, _ = seq.compensations.pop()
    assert task_id is not None
    ref = seq._ref(step_id)
    if answer is None:
        on_timeout = seq.params.escalation.on_timeout
        await workflow.execute_activity_method(
            TaskActivities.cancel_task,
            CancelTaskRequest(ref=ref, task_id=task_id, reason=f"no answer: {on_timeout}"),
            start_to_close_timeout=SHORT_ACTIVITY,
            retry_policy=RetryPolicy(maximum_attempts=10),
            summary=f"Cancel unanswered escalation task {task_id}",
        )
        return
    verdict, given = answer
    await workflow.execute_activity_method(
        TaskActivities.complete_task,
        CloseTaskRequest(
            ref=ref, task_id=task_id, by=given.by, note=f"{verdict}. {given.note}".strip()
        ),
        start_to_close_timeout=SHORT_ACTIVITY,
        retry_policy=RetryPolicy(maximum_attempts=10),
        summary=f"Close escalation task {task_id}: {verdict} by {given.by}",
    )
