"""Coordinator tasks in an ActivityEnvironment: opened once per step, closed, cancelled."""

from __future__ import annotations

import pytest
from temporalio.testing import ActivityEnvironment

from activities.tasks import TaskActivities
from contracts import (
    CancelTaskRequest,
    CloseTaskRequest,
    StepOutcome,
    StepRef,
    TaskKind,
    TaskRequest,
)

REF = StepRef(
    workflow_id="intervention-t-F1", run_id="r1", step_id="call", template="t", template_version=1
)


@pytest.fixture
def tasks(store) -> TaskActivities:
    return TaskActivities(store)


async def test_a_step_opens_its_task_once_with_the_rows_it_carries(store, tasks):
    skipped = StepOutcome(
        ref=REF.model_copy(update={"step_id": "first_sms"}),
        family_id="F1",
        kind="sms",
        outcome="skipped",
    )
    request = TaskRequest(
        ref=REF, family_id="F1", kind=TaskKind.CALL, reason="Please call", audits=[skipped]
    )
    env = ActivityEnvironment()
    first = await env.run(tasks.open_task, request)
    again = await env.run(tasks.open_task, request)
    assert again.task_id == first.task_id and again.duplicate and not first.duplicate
    [task] = await store.tasks.for_workflow(REF.workflow_id)
    assert (task.kind, task.status, task.assign_to) == ("call", "open", "coordinator")
    rows = [(r.step_id, r.outcome) for r in await store.steps.for_workflow(REF.workflow_id)]
    assert rows == [("first_sms", "skipped"), ("call", f"task {first.task_id} opened")]


async def test_a_cancel_undoes_an_open_task_and_leaves_a_done_one(store, tasks):
    env = ActivityEnvironment()
    request = TaskRequest(ref=REF, family_id="F1", kind=TaskKind.CALL, reason="Please call")
    opened = await env.run(tasks.open_task, request)
    cancelled = await env.run(
        tasks.cancel_task, CancelTaskRequest(ref=REF, task_id=opened.task_id, reason="called off")
    )
    assert cancelled.status == "cancelled"
    other = REF.model_copy(update={"step_id": "review"})
    done = await env.run(
        tasks.open_task, request.model_copy(update={"ref": other, "kind": TaskKind.TASK})
    )
    closed = await env.run(
        tasks.complete_task, CloseTaskRequest(ref=other, task_id=done.task_id, by="sarah")
    )
    assert closed.status == "done"
    again = await env.run(
        tasks.cancel_task, CancelTaskRequest(ref=other, task_id=done.task_id, reason="late")
    )
    assert again.status == "done"
    undo_rows = [
        r.outcome
        for r in await store.steps.for_workflow(REF.workflow_id)
        if r.kind == "compensation"
    ]
    assert undo_rows == [f"task {opened.task_id} cancelled", f"task {done.task_id} done"]
