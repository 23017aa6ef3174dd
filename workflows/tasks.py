"""The building blocks that ask people: coordinator tasks, approval gates, escalation.

Escalation hands a failed step to a person: it opens an escalation task carrying the
diagnostics (step, error type, message, attempts, family, workflow id), sets the state
`paused` and waits for `resume`, `skip` or `cancel`, with the template's timeout and
`on_timeout` rule. The task is closed once settled.
"""

from __future__ import annotations

from datetime import time as clock_time
from datetime import timedelta
from enum import StrEnum
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities import TaskActivities
    from contracts import (
        CancelTaskRequest,
        CloseTaskRequest,
        EscalationAnswer,
        PendingApproval,
        State,
        StepRecord,
        StepStatus,
        TaskKind,
        TaskRequest,
        Undo,
    )

from workflows.inputs import HumanInputs
from workflows.runtime import UNDO_RETRY, SequenceCancelled, describe


class GateAnswer(StrEnum):
    """How an approval gate was passed or not; its value is what the step records."""

    APPROVED = "approved"
    REJECTED = "not approved"
    PROCEEDED = "timed out, proceeded"
    SKIPPED = "timed out, skipped"

    @property
    def passed(self) -> bool:
        """Whether the gated step goes ahead."""
        return self in (GateAnswer.APPROVED, GateAnswer.PROCEEDED)


class TaskBlocks(HumanInputs):
    """`open_task`, `approval_gate` and `escalate`, the blocks a person takes part in."""

    async def open_task(
        self,
        kind: TaskKind,
        *,
        reason: str,
        step: str | None = None,
        delay: timedelta = timedelta(0),
        at: clock_time | None = None,
        approval: bool = False,
        compensate: bool = False,
    ) -> int | None:
        """Open a coordinator task (a call, a to-do), optionally behind an approval gate.

        With `compensate`, cancelling the sequence later cancels the task again.
        Returns the task id, or None when the gate said no.
        """
        self.check_cancelled()
        step_id = step or f"{kind.value}_task"
        record = self.step(step_id, kind.value, f"Open a {kind.value} task: {reason}")
        await self.wait_until_due(record, delay, at)
        answer = await self.approval_gate(step_id, reason) if approval else None
        if answer is not None and not answer.passed:
            self.finish_step(record, StepStatus.SKIPPED, answer.value)
            self.audit_step(record, answer.value)
            return None
        if compensate and self.undo_refused(record):
            return None
        task_id = await self.run_task(record, kind, reason, compensate=compensate)
        if answer == GateAnswer.PROCEEDED:
            record.result = f"{answer.value}: {record.result}"
        return task_id

    async def run_task(
        self,
        record: StepRecord,
        kind: TaskKind,
        reason: str,
        *,
        compensate: bool,
        details: dict[str, Any] | None = None,
    ) -> int | None:
        """Open the task now; with `compensate`, register its cancellation as an undo."""
        self.begin(record)
        ref = self.ref(record.step_id)
        result = await self.store_step(
            TaskActivities.open_task,
            TaskRequest(
                ref=ref,
                family_id=self.start.family_id,
                kind=kind,
                reason=reason,
                assign_to=self.params.escalation.assign_to,
                details=details or {},
                audits=self.take_carried_audits(),
            ),
            retry_policy=self.retry_policy(),
            summary=f"Open a {kind.value} task for a {self.params.escalation.assign_to}",
        )
        record.attempts += 1
        self.finish_step(record, StepStatus.DONE, f"task {result.task_id} opened")
        if compensate:
            self.progress.undos.append(
                Undo(
                    step_id=record.step_id,
                    run=record.run,
                    kind="cancel_task",
                    ref=ref,
                    task_id=result.task_id,
                    summary=f"Undo: cancel task {result.task_id}",
                )
            )
        return result.task_id

    async def approval_gate(
        self,
        step_id: str,
        reason: str,
        *,
        roles: list[str] | None = None,
        timeout: timedelta | None = None,
        on_timeout: str | None = None,
    ) -> GateAnswer:
        """Wait for a person to approve or reject; an early decision is used at once.

        `roles`, `timeout` and `on_timeout` narrow the template's defaults for one gate
        (a data-defined approval step). Only a decision for this gate from one of its roles
        answers it; one queued early from another role is refused here, never kept for a
        later gate. A timeout that proceeds is recorded as such, not as an approval.
        """
        escalation = self.params.escalation
        allowed = roles or self.params.approver_roles
        timeout = timeout or escalation.timeout
        on_timeout = on_timeout or escalation.on_timeout
        now = workflow.now()
        progress = self.progress
        gate = PendingApproval(
            step_id=step_id, reason=reason, roles=allowed, since=now, decide_by=now + timeout
        )
        progress.pending_approval = gate
        self.refuse_early(gate)
        self.set_state(State.AWAITING_APPROVAL)
        decided = await self.wait(
            lambda: self.has_answer(gate), timeout, f"Wait up to {describe(timeout)} for approval"
        )
        progress.pending_approval = None
        if decided:
            verdict = self.answer_for(gate)
            return GateAnswer.APPROVED if verdict == "approve" else GateAnswer.REJECTED
        if on_timeout == "cancel":
            raise SequenceCancelled("approval timed out")
        answer = GateAnswer.PROCEEDED if on_timeout == "proceed" else GateAnswer.SKIPPED
        progress.keep(
            "decisions",
            {"verdict": answer.value, "gate": step_id, "at": workflow.now().isoformat()},
        )
        return answer

    async def escalate(self, record: StepRecord) -> str:
        """Hand a failed step to a person: open an escalation task, pause, await an answer.

        Returns `resume` (try the step again) or `skip`; a cancel ends the sequence."""
        escalation = self.params.escalation
        progress = self.progress
        progress.escalation_answer = None
        count = progress.escalations[record.step_id] = (
            progress.escalations.get(record.step_id, 0) + 1
        )
        # A second escalation of the same step is a new task, not the first one again.
        task_step = f"{record.step_id}_escalation" + (f"_{count}" if count > 1 else "")
        error_type, _, message = (record.error or "").partition(": ")
        task_id = await self.run_task(
            self.step(task_step, "escalation", "Escalate to a person"),
            TaskKind.ESCALATION,
            f"Step '{record.step_id}' failed: {record.error}",
            compensate=True,  # a cancel while paused cancels the task too
            details={
                "step": record.step_id,
                "error": record.error,
                "error_type": error_type if message else None,
                "message": message or record.error,
                "attempts": record.attempts,
                "family_id": self.start.family_id,
                "workflow_id": workflow.info().workflow_id,
            },
        )
        progress.current_step = record.step_id
        self.set_state(State.PAUSED)
        answered = await self.wait(
            lambda: progress.escalation_answer is not None,
            escalation.timeout,
            f"Paused: wait up to {describe(escalation.timeout)} for resume or skip",
        )
        if not answered:
            if escalation.on_timeout == "cancel":
                raise SequenceCancelled(f"no answer to the escalation of '{record.step_id}'")
            await self.close_escalation(task_id, None)
            return "resume" if escalation.on_timeout == "proceed" else "skip"
        answer = progress.escalation_answer
        assert answer is not None
        await self.close_escalation(task_id, answer)
        return answer[0]

    async def close_escalation(
        self, task_id: int | None, answer: tuple[str, EscalationAnswer] | None
    ) -> None:
        """Take a settled escalation task out of the inbox: done when answered, else
        cancelled."""
        # `escalate` registered the task's undo last; nothing else runs while it is paused.
        undo = self.progress.undos.pop()
        assert task_id is not None
        if answer is None:
            on_timeout = self.params.escalation.on_timeout
            await self.store_step(
                TaskActivities.cancel_task,
                CancelTaskRequest(ref=undo.ref, task_id=task_id, reason=f"no answer: {on_timeout}"),
                retry_policy=UNDO_RETRY,
                summary=f"Cancel unanswered escalation task {task_id}",
            )
            return
        verdict, given = answer
        await self.store_step(
            TaskActivities.complete_task,
            CloseTaskRequest(
                ref=undo.ref, task_id=task_id, by=given.by, note=f"{verdict}. {given.note}".strip()
            ),
            retry_policy=UNDO_RETRY,
            summary=f"Close escalation task {task_id}: {verdict} by {given.by}",
        )
