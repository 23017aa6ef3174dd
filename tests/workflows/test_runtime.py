"""What every sequence runs on: its state, the `InterventionState` search attribute, the
family's read, and the durations its summaries name."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from contracts import Channel, Response, State
from followthrough.triggers.start import start_sequence
from store.families import context_of
from tests.workflows.test_sequences import COORDINATOR, start, status
from workflows.runtime import describe


def test_durations_read_as_a_person_writes_them() -> None:
    assert describe(timedelta(days=3)) == "3 days"
    assert describe(timedelta(hours=1)) == "1 hour"
    assert describe(timedelta(minutes=90)) == "90 minutes"
    assert describe(timedelta(seconds=45)) == "45 seconds"
    assert describe(timedelta(seconds=1)) == "1 second"


async def test_the_state_says_running_between_steps(time_env, store, settings, ts_worker):
    """The starter sets `running`; the search attribute keeps it while the status query says
    the sequence waits, and the status carries the whole state (the family, early decisions)."""
    handle = await start(time_env, store, settings)
    await handle.signal("approve", COORDINATOR)  # before the gate: queued until it opens
    await time_env.sleep(timedelta(hours=1))
    now = await status(handle)
    assert (now.state, now.current_step) == (State.SCHEDULED, "wait_reply")
    assert now.family is not None and now.family.family_id == "F1"
    assert [verdict for verdict, _ in now.queued_decisions] == ["approve"]
    described = await handle.describe()
    assert described.search_attributes.get("InterventionState") == ["running"]
    await handle.signal("record_response", Response(channel=Channel.EMAIL))
    await handle.result()
    described = await handle.describe()
    assert described.search_attributes.get("InterventionState") == ["completed"]


def local_activities(history: Any) -> int:
    return sum(
        1
        for event in history.events
        if event.HasField("marker_recorded_event_attributes")
        and event.marker_recorded_event_attributes.marker_name == "core_local_activity"
    )


async def test_a_family_read_by_the_starter_is_not_read_again(time_env, store, settings, ts_worker):
    """The triggers hand the family they read to the run; without it the run reads it."""
    params = await store.templates.active("high_risk_intervention")
    assert params is not None
    params = params.model_copy(update={"quiet_hours": None})
    row = await store.families.get("F2")
    assert row is not None
    given = await start_sequence(
        time_env.client, params, "F2", task_queue=settings.task_queue, family=context_of(row)
    )
    assert given.started and given.handle is not None
    read = await start(time_env, store, settings, family="F1")
    # Both replies before either result: awaiting a result lets the test server skip time.
    for handle in (given.handle, read):
        await handle.signal("record_response", Response(channel=Channel.EMAIL))
    for handle in (given.handle, read):
        assert (await handle.result()).outcome == "responded to outreach"
    # The wait's audit row goes in one local activity before the check, in both runs; only
    # the run started without the family reads it through another.
    assert local_activities(await given.handle.fetch_history()) == 1
    assert local_activities(await read.fetch_history()) == 2
    assert [m.channel for m in await store.messages.for_workflow(given.handle.id)] == ["email"]
