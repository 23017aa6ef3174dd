"""A looping data template continues as new each pass and still finishes right, with signals."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHandle
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from contracts import (
    CancelRequest,
    Channel,
    Decision,
    InterventionStatus,
    Response,
    SequenceParams,
    State,
    StepStatus,
)
from followthrough.triggers.start import start_sequence
from tests.workflows.record_histories import LOOP  # the shape its replay history records
from workflows.sequences import SEQUENCES


async def _start(env, settings) -> WorkflowHandle[Any, Any]:
    params = SequenceParams.model_validate(LOOP)
    outcome = await start_sequence(env.client, params, "F1", task_queue=settings.task_queue)
    assert outcome.handle is not None
    return outcome.handle


async def _runs(env, handle: WorkflowHandle[Any, Any]) -> int:
    """How many runs the sequence has had: one plus each continue-as-new before the last."""
    runs, run_id = 1, handle.first_execution_run_id or handle.result_run_id
    while True:
        events = [
            e
            async for e in env.client.get_workflow_handle(
                handle.id, run_id=run_id
            ).fetch_history_events()
        ]
        last = events[-1]
        if last.event_type != EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW:
            return runs
        run_id = last.workflow_execution_continued_as_new_event_attributes.new_execution_run_id
        runs += 1


async def test_each_pass_is_a_new_run_and_signals_carry_over(time_env, store, settings, ts_worker):
    handle = await _start(time_env, settings)
    # Sent before the gate exists: kept across every run until the gate uses it.
    await handle.signal("approve", Decision(approver="sarah", role="coordinator"))
    await time_env.sleep(timedelta(days=15))  # three reminders, a week apart
    status: InterventionStatus = await handle.query("status", result_type=InterventionStatus)
    assert status.state == State.SCHEDULED and status.current_step == "pause"
    await handle.signal("record_response", Response(channel=Channel.SMS, note="we are fine"))
    result = await handle.result()

    assert result.state == State.COMPLETED
    assert result.outcome == "email sent"
    # The last run's history holds only its own pass; the status still shows every step.
    loop = ["remind", "pause", "answered"]
    assert [s.step_id for s in result.steps] == ["open_call", *loop * 3, "sign_off", "thanks"]
    assert {s.status for s in result.steps} == {StepStatus.DONE}
    assert await _runs(time_env, handle) == 3
    # Every run's history replays through the current code.
    replayer = Replayer(workflows=SEQUENCES, data_converter=pydantic_data_converter)
    run_id = handle.first_execution_run_id or handle.result_run_id
    while run_id:
        run = time_env.client.get_workflow_handle(handle.id, run_id=run_id)
        history = await run.fetch_history()
        assert (await replayer.replay_workflow(history)).replay_failure is None
        last = history.events[-1]
        attributes = last.workflow_execution_continued_as_new_event_attributes
        run_id = (
            attributes.new_execution_run_id
            if last.HasField("workflow_execution_continued_as_new_event_attributes")
            else None
        )
    # Every pass sent its own reminder: a new run is a new idempotency key.
    sent = [m.channel for m in await store.messages.for_workflow(handle.id)]
    assert sent == ["sms", "sms", "sms", "email"]
    assert [(t.kind, t.status) for t in await store.tasks.for_workflow(handle.id)] == [
        ("call", "open")
    ]


async def test_cancel_in_a_later_run_undoes_what_an_earlier_run_did(
    time_env, store, settings, ts_worker
):
    handle = await _start(time_env, settings)
    await time_env.sleep(timedelta(days=8))  # into the second run
    assert await _runs(time_env, handle) == 2
    await handle.signal("cancel", CancelRequest(reason="family withdrew"))
    result = await handle.result()

    assert result.state == State.CANCELLED
    assert result.outcome == "cancelled: family withdrew"
    assert result.steps[0].step_id == "open_call"
    assert result.steps[0].status == StepStatus.COMPENSATED
    assert [(t.kind, t.status) for t in await store.tasks.for_workflow(handle.id)] == [
        ("call", "cancelled")
    ]
    described = await handle.describe()
    assert described.search_attributes.get("FamilyId") == ["F1"]
