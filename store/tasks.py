"""Coordinator tasks: opened by sequences, closed by people or by the sequence."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update

from contracts import TaskKind
from store.db import read_session
from store.models import CoordinatorTask, utcnow
from store.unique import Sessions, insert_once


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
    ) -> tuple[CoordinatorTask, bool]:
        """Open a task, or return the one already opened under this key (and False)."""
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
        return await insert_once(self._sessions, task)

    async def cancel(self, task_id: int, *, reason: str, by: str = "workflow") -> CoordinatorTask:
        """Cancel an open task. A task already cancelled or done is returned unchanged."""
        return await self._close(task_id, status="cancelled", by=by, note=reason)

    async def complete(self, task_id: int, *, by: str, note: str = "") -> CoordinatorTask:
        """Mark an open task done. A task already cancelled or done is returned unchanged."""
        return await self._close(task_id, status="done", by=by, note=note)

    async def _close(self, task_id: int, *, status: str, by: str, note: str) -> CoordinatorTask:
        async with self._sessions.begin() as session:
            # Conditional on "open", so a cancel racing a completion cannot overwrite it.
            await session.execute(
                update(CoordinatorTask)
                .where(CoordinatorTask.id == task_id, CoordinatorTask.status == "open")
                .values(status=status, closed_at=utcnow(), closed_by=by, close_note=note)
                .execution_options(synchronize_session=False)
            )
            task = await session.get(CoordinatorTask, task_id)
            if task is None:
                raise LookupError(f"no coordinator task {task_id}")
            return task

    async def get(self, task_id: int) -> CoordinatorTask | None:
        """The task, or None."""
        async with read_session(self._sessions) as session:
            return await session.get(CoordinatorTask, task_id)

    async def list_open(self, kind: str | None = None) -> list[CoordinatorTask]:
        """Open tasks, optionally of one kind, oldest first."""
        query = select(CoordinatorTask).where(CoordinatorTask.status == "open")
        if kind is not None:
            query = query.where(CoordinatorTask.kind == str(kind))
        query = query.order_by(CoordinatorTask.created_at, CoordinatorTask.id)
        async with read_session(self._sessions) as session:
            return list(await session.scalars(query))

    async def for_workflow(self, workflow_id: str) -> list[CoordinatorTask]:
        """Every task a sequence opened, oldest first."""
        query = (
            select(CoordinatorTask)
            .where(CoordinatorTask.workflow_id == workflow_id)
            .order_by(CoordinatorTask.created_at, CoordinatorTask.id)
        )
        async with read_session(self._sessions) as session:
            return list(await session.scalars(query))
