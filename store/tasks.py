"""Coordinator tasks: opened by sequences, closed by people or by the sequence."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from contracts import TaskKind
from store.audit import add_steps_once
from store.db import reading, writing
from store.models import CoordinatorTask, StepExecution, utcnow
from store.unique import Sessions, add_once


class TaskRepository:
    """Coordinator tasks: opened by sequences, closed by people or by the sequence."""

    def __init__(self, sessions: Sessions) -> None:
        self._sessions = sessions

    async def open(
        self,
        *,
        idempotency_key: str,
        family_id: str,
        workflow_id: str,
        kind: str,
        reason: str,
        assign_to: str,
        details: dict[str, Any],
        audits: Sequence[StepExecution] = (),
        audit: Callable[[CoordinatorTask], StepExecution] | None = None,
    ) -> tuple[CoordinatorTask, bool]:
        """Open a task, or return the one already opened under this key (and False).

        In the same transaction, each stored once: `audits` (rows of the steps before it)
        first, then `audit(task)`, the row of the opening itself (it names the task).
        """
        task = CoordinatorTask(
            idempotency_key=idempotency_key,
            family_id=family_id,
            workflow_id=workflow_id,
            kind=TaskKind(kind).value,
            reason=reason,
            assign_to=assign_to,
            details=dict(details),
            status="open",
        )

        def open_once(session: Session) -> tuple[CoordinatorTask, bool]:
            add_steps_once(session, audits)
            opened = add_once(session, task)
            if audit is not None:
                add_steps_once(session, [audit(opened[0])])
            return opened

        return await writing(self._sessions, open_once)

    async def cancel(self, task_id: int, *, reason: str, by: str = "workflow") -> CoordinatorTask:
        """Cancel an open task. A task already cancelled or done is returned unchanged."""
        return await self._close(task_id, status="cancelled", by=by, note=reason)

    async def complete(self, task_id: int, *, by: str, note: str = "") -> CoordinatorTask:
        """Mark an open task done. A task already cancelled or done is returned unchanged."""
        return await self._close(task_id, status="done", by=by, note=note)

    async def _close(self, task_id: int, *, status: str, by: str, note: str) -> CoordinatorTask:
        def close(session: Session) -> CoordinatorTask:
            # Conditional on "open", so a cancel racing a completion cannot overwrite it.
            session.execute(
                update(CoordinatorTask)
                .where(CoordinatorTask.id == task_id, CoordinatorTask.status == "open")
                .values(status=status, closed_at=utcnow(), closed_by=by, close_note=note)
                .execution_options(synchronize_session=False)
            )
            task = session.get(CoordinatorTask, task_id)
            if task is None:
                raise LookupError(f"no coordinator task {task_id}")
            return task

        return await writing(self._sessions, close)

    async def get(self, task_id: int) -> CoordinatorTask | None:
        """The task, or None."""
        return await reading(self._sessions, lambda session: session.get(CoordinatorTask, task_id))

    async def list_open(self, kind: str | None = None) -> list[CoordinatorTask]:
        """Open tasks, optionally of one kind, oldest first."""
        query = select(CoordinatorTask).where(CoordinatorTask.status == "open")
        if kind is not None:
            query = query.where(CoordinatorTask.kind == str(kind))
        query = query.order_by(CoordinatorTask.created_at, CoordinatorTask.id)
        return await reading(self._sessions, lambda session: list(session.scalars(query)))

    async def for_workflow(self, workflow_id: str) -> list[CoordinatorTask]:
        """Every task a sequence opened, oldest first."""
        query = (
            select(CoordinatorTask)
            .where(CoordinatorTask.workflow_id == workflow_id)
            .order_by(CoordinatorTask.created_at, CoordinatorTask.id)
        )
        return await reading(self._sessions, lambda session: list(session.scalars(query)))
