"""Durable waits under the time-skipping server: quiet hours place a step in the family's
local time, and a bounce during a wait sends the step's fallback at once, which then stands
for the story's next step on that channel."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from contracts import Bounce, Channel, Response, State, StepStatus
from tests.workflows.test_sequences import COORDINATOR, start, status
from workflows.sequences import SEQUENCES


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
    # The fallback SMS stands for the story's own SMS: skipped when the wait ends, not sent.
    first_sms = steps["first_sms"]
    assert first_sms.status == StepStatus.SKIPPED
    assert first_sms.result == "covered by the fallback first_email_fallback_sms"
    messages = await store.messages.for_workflow(handle.id)
    assert [(m.channel, m.step_id) for m in messages] == [
        ("email", "first_email"),
        ("sms", "first_email_fallback_sms"),
    ]
    audit = [
        (a.step_id, a.outcome, a.error_type) for a in await store.steps.for_workflow(handle.id)
    ]
    assert ("first_email", "fell back to sms", "HardBounce") in audit
    covered = ("first_sms", "skipped: covered by the fallback first_email_fallback_sms", None)
    assert covered in audit
    # The bounce's path replays deterministically.
    replayer = Replayer(workflows=SEQUENCES, data_converter=pydantic_data_converter)
    replay = await replayer.replay_workflow(await handle.fetch_history())
    assert replay.replay_failure is None
