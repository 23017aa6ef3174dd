"""The code-defined sequences under the time-skipping server, with the real activities."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from temporalio.client import WorkflowHandle
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer

from contracts import (
    Bounce,
    CancelRequest,
    Channel,
    Decision,
    InterventionStatus,
    Response,
    State,
    StepStatus,
)
from followthrough.platform.settings import Settings
from followthrough.triggers.start import start_sequence
from store import Store
from store.families import context_of
from workflows.sequences import SEQUENCES

COORDINATOR = Decision(approver="sarah", role="coordinator", note="go ahead")


async def start(
    env: WorkflowEnvironment,
    store: Store,
    settings: Settings,
    template: str = "high_risk_intervention",
    family: str = "F1",
    **overrides: Any,
) -> WorkflowHandle[Any, Any]:
    params = await store.templates.active(template)
    assert params is not None
    params = params.model_copy(update={"quiet_hours": None, **overrides})
    outcome = await start_sequence(env.client, params, family, task_queue=settings.task_queue)
    assert outcome.started, outcome.message
    assert outcome.workflow_id == f"intervention-{template}-{family}"
    assert outcome.handle is not None
    return outcome.handle


async def status(handle: WorkflowHandle[Any, Any]) -> InterventionStatus:
    result: InterventionStatus = await handle.query("status", result_type=InterventionStatus)
    return result


async def test_full_sequence_without_a_reply(time_env, store, settings, ts_worker):
    handle = await start(time_env, store, settings)
    await handle.signal("approve", COORDINATOR)  # kept until the gate is reached
    result = await handle.result()

    assert result.state == State.COMPLETED
    assert result.outcome == "call scheduled"
    steps = {s.step_id: s for s in result.steps}
    assert list(steps) == ["first_email", "wait_reply", "answered", "first_sms", "call"]
    assert all(s.status == StepStatus.DONE for s in steps.values())
    t0 = steps["first_email"].finished_at
    assert t0 is not None
    sms_at = steps["first_sms"].started_at
    call_at = steps["call"].started_at
    assert sms_at is not None and call_at is not None
    # The seed's offsets: SMS 3 days after the email, the call 2 days after that.
    assert timedelta(days=3) <= sms_at - t0 < timedelta(days=3, minutes=1)
    assert timedelta(days=5) <= call_at - t0 < timedelta(days=5, minutes=1)

    messages = await store.messages.for_workflow(handle.id)
    assert [m.channel for m in messages] == ["email", "sms"]
    assert messages[0].subject == "Checking in with the Martinez family"
    # Stamped with the sequence's time, not the wall clock, so frequency caps see these sends.
    assert abs(messages[0].created_at - t0) < timedelta(minutes=1)
    assert abs(messages[1].created_at - sms_at) < timedelta(minutes=1)
    tasks = await store.tasks.for_workflow(handle.id)
    assert [(t.kind, t.status) for t in tasks] == [("call", "open")]
    audit = await store.steps.for_workflow(handle.id)
    assert [a.kind for a in audit] == ["email", "wait", "condition", "sms", "call"]


async def test_reply_after_email_stops_before_sms(time_env, store, settings, ts_worker):
    handle = await start(time_env, store, settings)
    await handle.signal("record_response", Response(channel=Channel.EMAIL, note="all fine"))
    result = await handle.result()

    assert result.state == State.COMPLETED
    assert result.outcome == "responded to outreach"
    assert [m.channel for m in await store.messages.for_workflow(handle.id)] == ["email"]
    assert await store.tasks.for_workflow(handle.id) == []


async def test_waits_at_the_gate_then_reject_skips_the_call(time_env, store, settings, ts_worker):
    handle = await start(time_env, store, settings)
    await time_env.sleep(timedelta(days=5, hours=1))
    st = await status(handle)
    assert st.state == State.AWAITING_APPROVAL
    assert st.pending_approval is not None and st.pending_approval.step_id == "call"
    assert await store.tasks.for_workflow(handle.id) == []

    await handle.signal("reject", Decision(approver="mike", role="director", note="not now"))
    result = await handle.result()
    assert result.outcome == "call not approved"
    assert await store.tasks.for_workflow(handle.id) == []


async def test_a_role_not_allowed_cannot_approve(time_env, store, settings, ts_worker):
    handle = await start(time_env, store, settings)
    await handle.signal("approve", Decision(approver="pat", role="parent"))
    await time_env.sleep(timedelta(days=5, hours=1))
    st = await status(handle)
    assert st.state == State.AWAITING_APPROVAL
    assert st.decisions[0]["refused"] == "role 'parent' may not decide"

    await handle.signal("approve", COORDINATOR)
    result = await handle.result()
    assert result.outcome == "call scheduled"


async def test_cancel_during_the_wait(time_env, store, settings, ts_worker):
    handle = await start(time_env, store, settings)
    await time_env.sleep(timedelta(days=1))
    assert (await status(handle)).state == State.SCHEDULED
    await handle.signal("cancel", CancelRequest(reason="family withdrew", by="sarah"))
    result = await handle.result()

    assert result.state == State.CANCELLED
    assert result.outcome == "cancelled: family withdrew"
    assert [m.channel for m in await store.messages.for_workflow(handle.id)] == ["email"]


async def test_approval_timeout_follows_the_template(time_env, store, settings, ts_worker):
    handle = await start(time_env, store, settings)
    result = await handle.result()
    # No decision within the escalation timeout (2 days): on_timeout is `cancel`.
    assert result.state == State.CANCELLED
    assert result.outcome == "cancelled: approval timed out"


async def test_duplicate_trigger_starts_nothing(time_env, store, settings, ts_worker):
    handle = await start(time_env, store, settings)
    params = await store.templates.active("high_risk_intervention")
    assert params is not None
    again = await start_sequence(time_env.client, params, "F1", task_queue=settings.task_queue)
    assert not again.started
    assert again.message == f"{handle.id} is already running"
    await handle.signal("cancel", CancelRequest(reason="test over"))
    await handle.result()


async def test_email_without_address_falls_back_to_sms(time_env, store, settings, ts_worker):
    handle = await start(time_env, store, settings, family="F3")
    await handle.signal("record_response", Response(channel=Channel.SMS))
    result = await handle.result()

    steps = {s.step_id: s for s in result.steps}
    assert steps["first_email"].status == StepStatus.FELL_BACK
    assert steps["first_email_fallback_sms"].status == StepStatus.DONE
    assert [m.channel for m in await store.messages.for_workflow(handle.id)] == ["sms"]


async def test_an_email_bounce_sends_the_sms_fallback_at_once(time_env, store, settings, ts_worker):
    handle = await start(time_env, store, settings)
    await handle.signal("approve", COORDINATOR)
    await time_env.sleep(timedelta(days=1))
    bounce = Bounce(channel=Channel.EMAIL, step_id="first_email", reason="550 no such mailbox")
    await handle.signal("record_bounce", bounce)
    await handle.signal("record_bounce", bounce)  # a provider's retry changes nothing
    for _ in range(100):
        st = await status(handle)
        steps = {s.step_id: s for s in st.steps}
        fallback = steps.get("first_email_fallback_sms")
        if fallback is not None and fallback.status == StepStatus.DONE:
            break
        await asyncio.sleep(0.1)
    assert fallback is not None and fallback.status == StepStatus.DONE
    email = steps["first_email"]
    assert email.status == StepStatus.FELL_BACK
    assert email.error == "HardBounce: 550 no such mailbox"
    # The sequence is back in its 3-day wait for a reply, with the same deadline.
    assert (st.state, st.current_step) == (State.SCHEDULED, "wait_reply")
    assert email.finished_at is not None and st.next_action_at is not None
    assert fallback.started_at is not None and steps["wait_reply"].started_at is not None
    assert st.next_action_at == steps["wait_reply"].started_at + timedelta(days=3)
    # Sent when the bounce arrived, a day into the wait, not when the wait ended.
    assert fallback.started_at - steps["wait_reply"].started_at < timedelta(days=1, minutes=1)

    result = await handle.result()
    assert result.outcome == "call scheduled"
    steps = {s.step_id: s for s in result.steps}
    assert list(steps) == [
        "first_email",
        "wait_reply",
        "first_email_fallback_sms",
        "answered",
        "first_sms",
        "call",
    ]
    # The story's own SMS still goes out when the 3-day wait ends.
    sms_at, waited_from = steps["first_sms"].started_at, steps["wait_reply"].started_at
    assert sms_at is not None and waited_from is not None
    assert timedelta(days=3) <= sms_at - waited_from < timedelta(days=3, minutes=1)
    messages = await store.messages.for_workflow(handle.id)
    assert [(m.channel, m.step_id) for m in messages] == [
        ("email", "first_email"),
        ("sms", "first_email_fallback_sms"),
        ("sms", "first_sms"),
    ]
    audit = [
        (a.step_id, a.outcome, a.error_type) for a in await store.steps.for_workflow(handle.id)
    ]
    assert ("first_email", "fell back to sms", "HardBounce") in audit
    # The bounce's path replays deterministically.
    replayer = Replayer(workflows=SEQUENCES, data_converter=pydantic_data_converter)
    replay = await replayer.replay_workflow(await handle.fetch_history())
    assert replay.replay_failure is None


async def test_quiet_hours_move_the_first_email(time_env, store, settings, ts_worker):
    params = await store.templates.active("high_risk_intervention")
    assert params is not None
    handle = await start(time_env, store, settings, quiet_hours=params.quiet_hours)
    await handle.signal("record_response", Response(channel=Channel.EMAIL))
    result = await handle.result()
    email = result.steps[0]
    assert email.due_at is not None and email.started_at is not None
    assert email.started_at >= email.due_at
    # Family F1 lives in UTC: never sent at night or at the weekend.
    assert 8 <= email.started_at.hour < 20
    assert email.started_at.weekday() < 5


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
