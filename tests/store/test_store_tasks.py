"""Coordinator tasks: opened once per key, closed once."""

import asyncio
from typing import Any

import pytest
from sqlalchemy.exc import IntegrityError

from contracts import StepRef
from store import CoordinatorTask, Store
from store.audit import step_for


async def _open(store: Store, family_id: str, key: str = "wf-1/call", **changes: Any):
    fields: dict[str, Any] = {
        "idempotency_key": key,
        "family_id": family_id,
        "workflow_id": "wf-1",
        "kind": "call",
        "reason": "no answer to two emails",
        "assign_to": "coordinator",
        "details": {"step": "call"},
        **changes,
    }
    return await store.tasks.open(**fields)


async def test_concurrent_opens_with_one_key_make_one_task(store: Store, family_id: str) -> None:
    (first, created_first), (second, created_second) = await asyncio.gather(
        _open(store, family_id), _open(store, family_id)
    )

    assert sorted([created_first, created_second]) == [False, True]
    assert first.id == second.id
    assert len(await store.tasks.for_workflow("wf-1")) == 1


async def test_open_with_an_unknown_family_is_an_error(store: Store) -> None:
    with pytest.raises(IntegrityError):
        await _open(store, "F-missing")


async def test_cancel_is_idempotent(store: Store, family_id: str) -> None:
    task, _ = await _open(store, family_id)

    cancelled = await store.tasks.cancel(task.id, reason="family replied")
    again = await store.tasks.cancel(task.id, reason="second cancel", by="someone")

    assert (cancelled.status, cancelled.closed_by, cancelled.close_note) == (
        "cancelled",
        "workflow",
        "family replied",
    )
    assert cancelled.closed_at is not None and cancelled.closed_at.tzinfo is not None
    assert (again.status, again.closed_by, again.close_note, again.closed_at) == (
        "cancelled",
        "workflow",
        "family replied",
        cancelled.closed_at,
    )


async def test_a_done_task_is_not_cancelled(store: Store, family_id: str) -> None:
    task, _ = await _open(store, family_id)

    done = await store.tasks.complete(task.id, by="maria", note="spoke to parent")
    after_cancel = await store.tasks.cancel(task.id, reason="timeout")

    assert (done.status, done.closed_by, done.close_note) == ("done", "maria", "spoke to parent")
    assert (after_cancel.status, after_cancel.closed_by) == ("done", "maria")


async def test_racing_cancel_and_complete_close_once(store: Store, family_id: str) -> None:
    task, _ = await _open(store, family_id)

    cancelled, completed = await asyncio.gather(
        store.tasks.cancel(task.id, reason="timeout"), store.tasks.complete(task.id, by="maria")
    )

    stored = await store.tasks.get(task.id)
    assert stored is not None
    assert cancelled.status == completed.status == stored.status


async def test_closing_an_unknown_task_raises(store: Store) -> None:
    with pytest.raises(LookupError):
        await store.tasks.cancel(404, reason="x")
    assert await store.tasks.get(404) is None


async def test_list_open_is_oldest_first_and_filters_by_kind(store: Store, family_id: str) -> None:
    call, _ = await _open(store, family_id, "k1")
    escalation, _ = await _open(store, family_id, "k2", kind="escalation")
    closed, _ = await _open(store, family_id, "k3")
    await store.tasks.complete(closed.id, by="maria")

    def ids(tasks: list[CoordinatorTask]) -> list[int]:
        return [task.id for task in tasks]

    assert ids(await store.tasks.list_open()) == [call.id, escalation.id]
    assert ids(await store.tasks.list_open("escalation")) == [escalation.id]
    assert ids(await store.tasks.for_workflow("wf-1")) == [call.id, escalation.id, closed.id]


async def test_an_unknown_kind_is_rejected(store: Store, family_id: str) -> None:
    with pytest.raises(ValueError):
        await _open(store, family_id, kind="visit")


async def test_open_stores_the_carried_rows_and_its_own_once(store: Store, family_id: str) -> None:
    wait = StepRef(
        workflow_id="wf-1", run_id="run-1", step_id="wait", template="t", template_version=1
    )
    call = wait.model_copy(update={"step_id": "call"})

    async def open_call() -> tuple[CoordinatorTask, bool]:
        return await _open(
            store,
            family_id,
            audits=[
                step_for(wait, family_id=family_id, kind="wait", outcome="no reply", attempts=1)
            ],
            audit=lambda task: step_for(
                call, family_id=family_id, kind="call", outcome=f"task {task.id} opened", attempts=1
            ),
        )

    (task, created), (again, created_again) = await open_call(), await open_call()

    assert (created, created_again) == (True, False) and again.id == task.id
    steps = await store.steps.for_workflow("wf-1")
    assert [(s.step_id, s.outcome) for s in steps] == [
        ("wait", "no reply"),
        ("call", f"task {task.id} opened"),
    ]


async def test_open_with_an_unknown_family_stores_no_carried_row(
    store: Store, family_id: str
) -> None:
    wait = StepRef(
        workflow_id="wf-1", run_id="run-1", step_id="wait", template="t", template_version=1
    )
    with pytest.raises(IntegrityError):
        await _open(
            store,
            "F-missing",
            audits=[step_for(wait, family_id=family_id, kind="wait", outcome="x", attempts=1)],
        )
    assert await store.steps.for_workflow("wf-1") == []
