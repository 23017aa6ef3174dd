"""`ScheduledTrigger` under the time-skipping server: what one firing of a template's
schedule starts, batch by batch, and what it does once the template is switched off."""

from __future__ import annotations

import uuid
from typing import Any

from contracts import CancelRequest, SequenceParams, workflow_id_for
from contracts.schedules import ScheduledRun, ScheduledRunResult
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
