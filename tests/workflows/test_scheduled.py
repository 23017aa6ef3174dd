"""`ScheduledTrigger` under the time-skipping server: what one firing of a template's
schedule starts, batch by batch, and what it does once the template is switched off."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from temporalio.api.sdk.v1 import WorkflowMetadata
from temporalio.client import WorkflowFailureError
from temporalio.testing import ActivityEnvironment

from activities.schedules import ScheduleActivities
from contracts import CancelRequest, SequenceParams, workflow_id_for
from contracts.schedules import (
    ScheduledRun,
    ScheduledRunResult,
    StartedSequence,
    StartScheduledRequest,
)
from store import Store
from workflows.scheduled import ScheduledTrigger


async def scheduled_copy(store: Store) -> str:
    """The shipped payment reminder under a name of its own: no earlier run shares its ids."""
    shipped = await store.templates.active("payment_reminder")
    assert shipped is not None and shipped.trigger.type == "schedule"
    data: dict[str, Any] = shipped.model_dump(mode="json", exclude={"version", "active"})
    data["name"] = f"payment_reminder_{uuid.uuid4().hex[:8]}"
    saved, _ = await store.templates.save(SequenceParams.model_validate(data))
    return saved.name


async def test_one_firing_starts_the_matching_families_once(time_env, store, settings, ts_worker):
    await store.families.upsert("F1", "Martinez", attributes={"overdue_balance": 120.5})
    await store.families.upsert("F2", "Okafor", attributes={"overdue_balance": 0})
    name = await scheduled_copy(store)
    run = ScheduledRun(template=name, schedule_id="test")

    async def fire() -> ScheduledRunResult:
        return await time_env.client.execute_workflow(
            ScheduledTrigger.run,
            run,
            id=f"scheduled-{uuid.uuid4()}",
            task_queue=settings.task_queue,
            result_type=ScheduledRunResult,
        )

    first = await fire()
    assert (first.template, first.version, first.matched) == (name, 1, 1)
    assert [(s.family_id, s.outcome) for s in first.starts] == [("F1", "started")]
    again = await fire()
    assert again.count("already_running") == 1 and again.count("started") == 0
    sequence = time_env.client.get_workflow_handle(workflow_id_for(name, "F1"))
    await sequence.signal("cancel", CancelRequest(reason="test over"))
    await sequence.result()


async def test_a_switched_off_template_starts_nothing(time_env, store, settings, ts_worker):
    name = await scheduled_copy(store)
    await store.templates.set_active(name, False)
    result = await time_env.client.execute_workflow(
        ScheduledTrigger.run,
        ScheduledRun(template=name, schedule_id="test"),
        id=f"scheduled-{uuid.uuid4()}",
        task_queue=settings.task_queue,
        result_type=ScheduledRunResult,
    )
    assert (result.version, result.matched, result.starts) == (None, 0, [])


async def test_a_run_says_where_it_stands_in_the_web_ui(time_env, store, settings, ts_worker):
    """Current details while it runs and once done; each batch's activity heartbeats its
    progress (the Web UI shows both)."""
    for n in range(3):
        await store.families.upsert(f"S{n}", "Family", attributes={"overdue_balance": 10 + n})
    name = await scheduled_copy(store)
    handle = await time_env.client.start_workflow(
        ScheduledTrigger.run,
        ScheduledRun(template=name, schedule_id="test"),
        id=f"scheduled-{uuid.uuid4()}",
        task_queue=settings.task_queue,
        result_type=ScheduledRunResult,
    )
    result = await handle.result()
    metadata = await handle.query("__temporal_workflow_metadata", result_type=WorkflowMetadata)
    assert metadata.current_details == (
        f"done: {name} for {len(result.starts)} of {result.matched} families"
    )
    for start in result.starts:  # called off, and closed before the worker stops
        if start.workflow_id:
            started = time_env.client.get_workflow_handle(start.workflow_id)
            await started.cancel()
            with pytest.raises(WorkflowFailureError):
                await started.result()

    beats: list[object] = []
    environment = ActivityEnvironment()
    environment.on_heartbeat = lambda *details: beats.extend(details)
    params = await store.templates.active(name)
    assert params is not None

    async def start_one(params: SequenceParams, family_id: str, by: str) -> StartedSequence:
        return StartedSequence(family_id=family_id, workflow_id=None, outcome="x", message="")

    activities = ScheduleActivities(store, start_one)
    request = StartScheduledRequest(params=params, family_ids=["S0", "S1"], triggered_by="t")
    await environment.run(activities.start_scheduled_sequences, request)
    assert beats == ["0 of 2 started; next S0", "1 of 2 started; next S1"]
