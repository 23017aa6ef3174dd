"""Per-channel send windows, applied by `send` under the time-skipping server."""

from __future__ import annotations

import asyncio
from datetime import time
from zoneinfo import ZoneInfo

from contracts import Channel, InterventionStatus, State, StepStatus
from contracts.windows import SendWindow
from followthrough.triggers.start import start_sequence

NEW_YORK = ZoneInfo("America/New_York")


async def test_onboarding_sends_each_channel_inside_its_window(
    time_env, store, settings, ts_worker
):
    params = await store.templates.active("onboarding")
    assert params is not None
    assert params.send_windows  # the shipped template sets them
    outcome = await start_sequence(time_env.client, params, "F2", task_queue=settings.task_queue)
    assert outcome.handle is not None
    result = await outcome.handle.result()
    assert result.state == State.COMPLETED

    sends = [s for s in result.steps if s.kind in ("email", "sms") and s.status == StepStatus.DONE]
    assert len(sends) == 6
    for step in sends:
        assert step.started_at is not None and step.channel is not None
        local = step.started_at.astimezone(NEW_YORK)
        window = params.send_windows[step.channel]
        assert window.contains(local.time()), (step.step_id, local)
        assert local.weekday() < 5, (step.step_id, local)
        if step.due_reason and "send window" in step.due_reason:
            assert window.describe() in step.due_reason
    # Two windows that never meet the start time: at least one step had to move for them.
    assert any("send window" in (s.due_reason or "") for s in sends)


async def test_the_status_shows_why_a_text_waits_for_its_window(
    time_env, store, settings, ts_worker
):
    params = await store.templates.active("medium_risk_intervention")
    assert params is not None
    # A one-minute window a day: whatever the server's clock, the SMS must wait for it.
    params = params.model_copy(
        update={
            "quiet_hours": None,
            "send_windows": {Channel.SMS: SendWindow(start=time(3, 7), end=time(3, 8))},
        }
    )
    outcome = await start_sequence(time_env.client, params, "F3", task_queue=settings.task_queue)
    assert outcome.handle is not None  # F3 has no email: the email falls back to SMS
    for _ in range(200):  # the first workflow task takes a moment to run
        status = await outcome.handle.query("status", result_type=InterventionStatus)
        if (status.current_step or "").endswith("_fallback_sms"):
            break
        await asyncio.sleep(0.05)
    step = next(s for s in status.steps if s.step_id == status.current_step)
    assert step.due_reason == "send window (03:07–03:08 local)"
    assert status.state == State.SCHEDULED
    assert status.next_action_at == step.due_at
    assert step.due_at is not None and step.due_at.astimezone(ZoneInfo("UTC")).time() == time(3, 7)
    await outcome.handle.terminate("test over")
