"""Workflow changes by level: on without a marker below the run's level, asked of
`workflow.patched` from it on, and a run from a newer worker left for a newer worker."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import pytest
from temporalio.client import WorkflowHandle
from temporalio.exceptions import ApplicationError

from contracts import Channel, InterventionResult, InterventionStart, Response
from workflows import changes
from workflows.changes import CHANGES, LEVEL, UnknownChanges, changed


def test_changes_below_the_level_never_ask_for_a_marker(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[str] = []

    def patched(change: str) -> bool:
        asked.append(change)
        return False  # what a replay of a run without the marker answers

    monkeypatch.setattr(changes.workflow, "patched", patched)
    for level in range(LEVEL + 1):
        for position, change in enumerate(CHANGES):
            asked.clear()
            taken = changed(level, change)
            if position < level:
                assert (taken, asked) == (True, []), (level, change)
            else:
                assert (taken, asked) == (False, [change]), (level, change)


def test_the_changes_are_distinct_and_new_runs_take_them_all() -> None:
    assert len(set(CHANGES)) == len(CHANGES) == LEVEL
    assert InterventionStart.model_fields["changes"].default == 0  # older inputs decode as 0


async def task_failures(handle: WorkflowHandle[Any, Any]) -> list[str]:
    history = await handle.fetch_history()
    return [
        e.workflow_task_failed_event_attributes.failure.message
        for e in history.events
        if e.HasField("workflow_task_failed_event_attributes")
    ]


async def test_a_run_from_a_newer_worker_waits_for_one(
    time_env, store, settings, ts_worker, monkeypatch: pytest.MonkeyPatch
):
    """Started with one change more than this worker knows: its workflow task fails (nothing
    is done, the run stays open); a worker that knows the change then carries it out."""
    assert not issubclass(UnknownChanges, ApplicationError)  # it fails the task, not the run
    params = await store.templates.active("medium_risk_intervention")
    assert params is not None
    handle = await time_env.client.start_workflow(
        params.workflow,
        InterventionStart(
            family_id="F1",
            params=params.model_copy(update={"quiet_hours": None}),
            changes=LEVEL + 1,
        ),
        id=f"newer-{uuid.uuid4()}",
        task_queue=settings.task_queue,
        task_timeout=timedelta(seconds=1),  # a failed task's next attempt comes this soon
        result_type=InterventionResult,
    )
    for _ in range(100):
        failures = await task_failures(handle)
        if failures:
            break
        await asyncio.sleep(0.1)
    assert failures and "left for a newer worker" in failures[0]
    history = await handle.fetch_history()
    assert not any(e.HasField("activity_task_scheduled_event_attributes") for e in history.events)
    assert not any(e.HasField("marker_recorded_event_attributes") for e in history.events)

    monkeypatch.setattr(changes, "LEVEL", LEVEL + 1)  # a newer worker takes the task
    await handle.signal("record_response", Response(channel=Channel.EMAIL))
    result = await handle.result()
    assert result.outcome.startswith("responded")
