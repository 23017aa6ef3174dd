"""Coordinator tasks: calls, to-dos and escalations for a person to pick up."""

from __future__ import annotations

from temporalio import activity

from activities.audit import outcome_row
from contracts import (
    CancelTaskRequest,
    CancelTaskResult,
    CloseTaskRequest,
    TaskRequest,
    TaskResult,
)
from store import Store
from store.audit import step_for


class TaskActivities:
    """Open and cancel coordinator tasks; both are idempotent per step."""

    def __init__(self, store: Store) -> None:
        self._store = store

    @activity.defn
    async def open_task(self, request: TaskRequest) -> TaskResult:
        """Open a task for a coordinator; the same step opens it only once."""
        ref, attempt = request.ref, activity.info().attempt
        # One transaction: the rows this task carries, the task, the row of its opening.
        task, created = await self._store.tasks.open(
            idempotency_key=ref.idempotency_key,
            family_id=request.family_id,
            workflow_id=ref.workflow_id,
            kind=request.kind.value,
            reason=request.reason,
            assign_to=request.assign_to,
            details=request.details,
            audits=[outcome_row(row) for row in request.audits],
            audit=lambda opened: step_for(
                ref,
                family_id=request.family_id,
                kind=request.kind.value,
                outcome=f"task {opened.id} opened",
                attempts=attempt,
            ),
        )
        return TaskResult(task_id=task.id, duplicate=not created)

    @activity.defn
    async def complete_task(self, request: CloseTaskRequest) -> CancelTaskResult:
        """Mark a task the sequence opened as done; a closed task stays as it is."""
        task = await self._store.tasks.complete(request.task_id, by=request.by, note=request.note)
        return CancelTaskResult(task_id=task.id, status=task.status)

    @activity.defn
    async def cancel_task(self, request: CancelTaskRequest) -> CancelTaskResult:
        """Compensation: cancel a task the sequence opened (a done task stays done)."""
        task = await self._store.tasks.cancel(request.task_id, reason=request.reason)
        ref = request.ref
        await self._store.steps.add(
            step_for(
                ref,
                key=f"{ref.idempotency_key}/undo",
                step_id=f"{ref.step_id}_undo",
                family_id=task.family_id,
                kind="compensation",
                outcome=f"task {task.id} {task.status}",
                attempts=activity.info().attempt,
            )
        )
        return CancelTaskResult(task_id=task.id, status=task.status)
