"""Payment reminder and onboarding under the time-skipping server, over their full length."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from contracts import Channel, Decision, Event, InterventionStatus, Response, State, StepStatus
from followthrough.platform.settings import Settings
from followthrough.triggers.start import start_sequence
from store import Store

BILLING = Decision(approver="dana", role="billing", note="offer the plan")


async def start(
    env: WorkflowEnvironment, store: Store, settings: Settings, template: str, family: str = "F1"
) -> WorkflowHandle[Any, Any]:
    params = await store.templates.active(template)
    assert params is not None
    # Without quiet hours and windows the offsets are exact, whatever the server's start hour.
    params = params.model_copy(update={"quiet_hours": None, "send_windows": {}})
    outcome = await start_sequence(env.client, params, family, task_queue=settings.task_queue)
    assert outcome.handle is not None, outcome.message
    return outcome.handle


async def status(handle: WorkflowHandle[Any, Any]) -> InterventionStatus:
    result: InterventionStatus = await handle.query("status", result_type=InterventionStatus)
    return result


def offsets(steps: list[Any]) -> dict[str, timedelta]:
    t0 = steps[0].started_at
    return {s.step_id: (s.started_at or s.finished_at) - t0 for s in steps}


def days(value: timedelta) -> int:
    return round(value / timedelta(days=1))


# ----------------------------------------------------------------------- payment reminder


async def test_payment_reminder_escalates_to_an_approved_payment_plan(
    time_env, store, settings, ts_worker
):
    handle = await start(time_env, store, settings, "payment_reminder")
    await handle.signal("approve", BILLING)  # kept until the gate is reached
    result = await handle.result()

    assert result.state == State.COMPLETED
    assert result.outcome == "payment plan offered"
    at = offsets(result.steps)
    assert list(at) == [
        "friendly_email",
        "wait_after_email",
        "firm_sms",
        "wait_after_sms",
        "call",
        "wait_after_call",
        "payment_plan_approval",
        "payment_plan",
    ]
    assert {k: days(v) for k, v in at.items()} == {
        "friendly_email": 0,
        "wait_after_email": 0,
        "firm_sms": 5,
        "wait_after_sms": 5,
        "call": 9,
        "wait_after_call": 9,
        "payment_plan_approval": 16,
        "payment_plan": 16,
    }
    messages = await store.messages.for_workflow(handle.id)
    assert [(m.channel, m.step_id) for m in messages] == [
        ("email", "friendly_email"),
        ("sms", "firm_sms"),
        ("email", "payment_plan"),
    ]
    tasks = await store.tasks.for_workflow(handle.id)
    assert [(t.kind, t.assign_to, t.status) for t in tasks] == [("call", "billing", "open")]


async def test_a_payment_while_the_call_is_open_stops_and_cancels_the_call(
    time_env, store, settings, ts_worker
):
    handle = await start(time_env, store, settings, "payment_reminder")
    await time_env.sleep(timedelta(days=10))
    st = await status(handle)
    assert st.current_step == "wait_after_call" and st.state == State.SCHEDULED

    await handle.signal("record_event", Event(name="payment_received", data={"amount": 120}))
    result = await handle.result()

    assert result.state == State.COMPLETED
    assert result.outcome == "stopped: payment_received"
    steps = {s.step_id: s for s in result.steps}
    assert steps["wait_after_call"].result == "'payment_received' received"
    assert steps["call"].status == StepStatus.COMPENSATED
    assert "payment_plan" not in steps
    # It stopped at the moment of the event, not at the end of the 7-day wait.
    assert steps["wait_after_call"].finished_at - steps["call"].started_at < timedelta(days=2)
    tasks = await store.tasks.for_workflow(handle.id)
    assert [(t.kind, t.status) for t in tasks] == [("call", "cancelled")]
    assert len(await store.messages.for_workflow(handle.id)) == 2


async def test_a_payment_at_the_approval_gate_stops_at_once(time_env, store, settings, ts_worker):
    handle = await start(time_env, store, settings, "payment_reminder")
    await time_env.sleep(timedelta(days=16, hours=1))
    assert (await status(handle)).state == State.AWAITING_APPROVAL

    await handle.signal("record_event", Event(name="payment_received"))
    result = await handle.result()
    assert result.outcome == "stopped: payment_received"
    assert (await status(handle)).pending_approval is None
    assert [m.channel for m in await store.messages.for_workflow(handle.id)] == ["email", "sms"]


async def test_other_events_and_replies_do_not_stop_a_payment_reminder(
    time_env, store, settings, ts_worker
):
    handle = await start(time_env, store, settings, "payment_reminder")
    await handle.signal("record_event", Event(name="enrolled"))
    await handle.signal("record_response", Response(channel=Channel.EMAIL, note="will pay soon"))
    await time_env.sleep(timedelta(days=6))
    assert (await status(handle)).current_step == "wait_after_sms"
    await handle.signal("record_event", Event(name="payment_received"))
    result = await handle.result()
    assert result.outcome == "stopped: payment_received"
    assert [s.step_id for s in result.steps][-1] == "wait_after_sms"


async def test_the_event_command_delivers_a_payment_to_the_running_reminder(
    time_env, store, settings, ts_worker
):
    from followthrough.triggers.events import send_event
    from followthrough.triggers.start import TriggerError

    handle = await start(time_env, store, settings, "payment_reminder")
    await time_env.sleep(timedelta(days=1))
    outcome = await send_event(
        time_env.client, store, "payment_received", "F1", {"amount": 80},
        task_queue=settings.task_queue,
    )  # fmt: skip
    assert not outcome.started
    assert outcome.message == f"event 'payment_received' sent to {handle.id}"
    assert (await handle.result()).outcome == "stopped: payment_received"
    # Once it has ended, nothing is left to take the event.
    with pytest.raises(TriggerError, match="no active template is bound to event"):
        await send_event(
            time_env.client, store, "payment_received", "F1", task_queue=settings.task_queue
        )


# ----------------------------------------------------------------------- onboarding


async def test_onboarding_runs_eight_steps_over_four_weeks(time_env, store, settings, ts_worker):
    handle = await start(time_env, store, settings, "onboarding")
    result = await handle.result()

    assert result.state == State.COMPLETED
    assert result.outcome == "onboarding complete"
    at = {k: days(v) for k, v in offsets(result.steps).items()}
    assert at == {
        "welcome": 0,
        "orientation": 1,
        "first_checkin": 3,
        "welcome_call": 7,
        "week_two_tips": 10,
        "feedback_survey": 14,
        "survey_wait": 14,
        "survey_reminder": 17,
        "one_month_review": 28,
    }
    acting = [s for s in result.steps if s.kind != "wait"]
    assert len(acting) == 8 and all(s.status == StepStatus.DONE for s in acting)
    messages = await store.messages.for_workflow(handle.id)
    assert [m.step_id for m in messages] == [
        "welcome",
        "orientation",
        "first_checkin",
        "week_two_tips",
        "feedback_survey",
        "survey_reminder",
    ]
    tasks = await store.tasks.for_workflow(handle.id)
    assert [(t.kind, t.status) for t in tasks] == [("call", "open"), ("task", "open")]


async def test_onboarding_skips_the_survey_reminder_after_a_reply(
    time_env, store, settings, ts_worker
):
    handle = await start(time_env, store, settings, "onboarding")
    await time_env.sleep(timedelta(days=15))
    await handle.signal("record_response", Response(channel=Channel.EMAIL, note="all great"))
    result = await handle.result()

    steps = {s.step_id: s for s in result.steps}
    assert steps["survey_wait"].result == "a reply to the survey: yes"
    assert steps["survey_reminder"].status == StepStatus.SKIPPED
    assert result.outcome == "onboarding complete"
    sent = [m.step_id for m in await store.messages.for_workflow(handle.id)]
    assert "survey_reminder" not in sent


async def test_a_withdrawal_ends_onboarding_and_cancels_the_welcome_call(
    time_env, store, settings, ts_worker
):
    handle = await start(time_env, store, settings, "onboarding")
    await time_env.sleep(timedelta(days=8))
    await handle.signal("record_event", Event(name="withdrawn"))
    result = await handle.result()

    assert result.outcome == "stopped: withdrawn"
    assert [s.step_id for s in result.steps][-1] == "week_two_tips"
    tasks = await store.tasks.for_workflow(handle.id)
    assert [(t.kind, t.status) for t in tasks] == [("call", "cancelled")]
