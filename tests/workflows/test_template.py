"""TemplateIntervention under time-skipping: the data template behaves like the class."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from contracts import (
    CancelRequest,
    Channel,
    Decision,
    Event,
    InterventionResult,
    InterventionStatus,
    Response,
    SequenceParams,
    State,
    StepStatus,
)
from followthrough.platform.settings import Settings
from followthrough.triggers.start import start_sequence
from store import Store

COORDINATOR = Decision(approver="sarah", role="coordinator")


async def start(
    env: WorkflowEnvironment,
    store: Store,
    settings: Settings,
    template: str,
    family: str = "F1",
    **overrides: Any,
) -> WorkflowHandle[Any, Any]:
    params = await store.templates.active(template)
    assert params is not None
    params = params.model_copy(update={"quiet_hours": None, **overrides})
    outcome = await start_sequence(env.client, params, family, task_queue=settings.task_queue)
    assert outcome.started and outcome.handle is not None, outcome.message
    return outcome.handle


def timeline(result: InterventionResult) -> list[tuple[str, str, str, int]]:
    """(step, kind, status, minutes from the first step's start) of every step."""
    first = result.steps[0].started_at
    assert first is not None
    # Whole minutes: activities take real milliseconds between the skipped timers.
    return [
        (
            s.step_id,
            s.kind,
            s.status.value,
            ((s.started_at or first) - first) // timedelta(minutes=1),
        )
        for s in result.steps
    ]


async def both(env, store, settings, family="F1", before=None):
    """Run the class and the data template side by side with the same signals."""
    results = []
    for template in ("high_risk_intervention", "high_risk_as_data"):
        handle = await start(env, store, settings, template, family)
        if before is not None:
            await before(handle)
        results.append((handle.id, await handle.result()))
    return results


async def test_no_reply_path_matches_the_class(time_env, store, settings, ts_worker):
    async def approve(handle):
        await handle.signal("approve", COORDINATOR)

    (code_id, code), (data_id, data) = await both(time_env, store, settings, before=approve)
    assert data.state == code.state == State.COMPLETED
    assert data.outcome == code.outcome == "call scheduled"
    assert timeline(data) == timeline(code)
    offsets = [minutes for *_, minutes in timeline(data)]
    assert offsets == [0, 0, 3 * 24 * 60, 3 * 24 * 60, 5 * 24 * 60]
    for workflow_id in (code_id, data_id):
        assert [m.channel for m in await store.messages.for_workflow(workflow_id)] == [
            "email",
            "sms",
        ]
        tasks = await store.tasks.for_workflow(workflow_id)
        assert [(t.kind, t.status) for t in tasks] == [("call", "open")]
    code_audit = [a.kind for a in await store.steps.for_workflow(code_id)]
    assert [a.kind for a in await store.steps.for_workflow(data_id)] == code_audit


async def test_reply_path_matches_the_class(time_env, store, settings, ts_worker):
    async def reply(handle):
        await handle.signal("record_response", Response(channel=Channel.EMAIL))

    (_, code), (data_id, data) = await both(time_env, store, settings, before=reply)
    assert data.outcome == code.outcome == "responded to outreach"
    assert [(s.step_id, s.status) for s in data.steps] == [
        (s.step_id, s.status) for s in code.steps
    ]
    assert [m.channel for m in await store.messages.for_workflow(data_id)] == ["email"]


async def test_fallback_to_sms_matches_the_class(time_env, store, settings, ts_worker):
    async def reply(handle):
        await handle.signal("record_response", Response(channel=Channel.SMS))

    (_, code), (_, data) = await both(time_env, store, settings, family="F3", before=reply)
    assert [(s.step_id, s.status) for s in data.steps] == [
        (s.step_id, s.status) for s in code.steps
    ]
    assert data.steps[0].status == StepStatus.FELL_BACK


async def test_cancel_at_the_gate_compensates_nothing_yet(time_env, store, settings, ts_worker):
    handle = await start(time_env, store, settings, "high_risk_as_data")
    await time_env.sleep(timedelta(days=5, hours=1))
    status = await handle.query("status", result_type=InterventionStatus)
    assert status.state == State.AWAITING_APPROVAL
    assert status.template == "high_risk_as_data"
    await handle.signal("cancel", CancelRequest(reason="family withdrew"))
    result = await handle.result()
    assert result.state == State.CANCELLED
    assert result.outcome == "cancelled: family withdrew"
    assert await store.tasks.for_workflow(handle.id) == []


async def test_cancel_after_the_call_cancels_the_task(time_env, store, settings, ts_worker):
    params = await store.templates.active("high_risk_as_data")
    assert params is not None and params.steps is not None
    # One more wait after the call, so there is time to call the sequence off.
    steps = [*params.steps, {"id": "cool_off", "type": "wait", "duration": "7d"}]
    data = params.model_dump(mode="json")
    handle = await start(
        time_env,
        store,
        settings,
        "high_risk_as_data",
        steps=SequenceParams.model_validate({**data, "steps": [*data["steps"], steps[-1]]}).steps,
    )
    await handle.signal("approve", COORDINATOR)
    await time_env.sleep(timedelta(days=6))
    await handle.signal("cancel", CancelRequest(reason="resolved in person"))
    result = await handle.result()
    assert result.state == State.CANCELLED
    assert {s.step_id: s.status for s in result.steps}["call"] == StepStatus.COMPENSATED
    assert [t.status for t in await store.tasks.for_workflow(handle.id)] == ["cancelled"]


async def test_the_six_step_template_runs_as_written(time_env, store, settings, ts_worker):
    handle = await start(time_env, store, settings, "high_risk_six_steps")
    result = await handle.result()
    assert result.state == State.COMPLETED
    assert [s.step_id for s in result.steps] == [
        "send_initial_email",
        "wait_for_response",
        "check_response",
        "send_sms_follow_up",
        "schedule_phone_call",
        "mark_complete",
    ]
    messages = await store.messages.for_workflow(handle.id)
    assert [m.channel for m in messages] == ["email", "sms"]
    assert messages[1].body.startswith("Hi Martinez, checking in")
    tasks = await store.tasks.for_workflow(handle.id)
    assert [t.kind for t in tasks] == ["call", "task"]


async def test_wait_until_a_named_event(time_env, store, settings, ts_worker):
    params = SequenceParams.model_validate(
        {
            "name": "payment_followup",
            "messages": {"thanks": {"body": "Thank you, {{ first_name }}"}},
            "stop_when": ["account_closed"],
            "steps": [
                {"id": "wait_payment", "type": "wait", "duration": "10d", "until": "payment"},
                {
                    "id": "paid",
                    "type": "condition",
                    "if": {"field": "events.payment.amount", "op": ">", "value": 0},
                    "then": "thank",
                    "else": "end",
                },
                {"id": "thank", "type": "sms", "template": "thanks"},
            ],
        }
    )
    outcome = await start_sequence(time_env.client, params, "F1", task_queue=settings.task_queue)
    assert outcome.handle is not None
    await time_env.sleep(timedelta(days=2))
    await outcome.handle.signal("record_event", Event(name="payment", data={"amount": 40}))
    result = await outcome.handle.result()
    assert result.outcome == "sms sent"
    waited = result.steps[0]
    assert waited.result == "'payment' received"
    assert waited.finished_at is not None and waited.started_at is not None
    assert waited.finished_at - waited.started_at < timedelta(days=3)
