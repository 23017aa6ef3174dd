"""`Intervention.send` under time-skipping: opted-out channels, frequency caps (checked by the
send itself, then a durable wait for the next slot) and per-channel send windows."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import httpx

from activities.consent import cap_window
from contracts import Channel, InterventionStatus, State, StepStatus
from contracts.caps import FrequencyCap
from contracts.windows import SendWindow
from followthrough.platform.settings import Settings
from followthrough.triggers.start import start_sequence
from store.models import Message
from tests.fake_provider import FakeProvider
from tests.workflows.test_sequences import COORDINATOR, start
from worker import build_worker

NEW_YORK = ZoneInfo("America/New_York")


def http_settings(fake: FakeProvider) -> Settings:
    """Both channels through the real HTTP adapters, pointed at the local fake provider."""
    return Settings(
        task_queue=f"tq-{uuid.uuid4()}",
        email_provider="http",
        email_api_url=f"{fake.url}/email",
        email_api_token="server-token",
        sms_provider="http",
        sms_api_url=f"{fake.url}/sms",
        sms_account_sid="AC1",
        sms_auth_token="sms-token",
    )


async def test_opted_out_channel_is_never_called(time_env, store):
    await store.families.opt_out("F1", "email")
    with FakeProvider().running() as fake:
        settings = http_settings(fake)
        async with (
            httpx.AsyncClient(timeout=5.0) as http,
            build_worker(time_env.client, store, http, settings),
        ):
            handle = await start(time_env, store, settings)
            await handle.signal("approve", COORDINATOR)
            result = await handle.result()

    # One SMS: the fallback stands for the story's own SMS, which is skipped.
    assert [r.path for r in fake.requests] == ["/sms"]
    steps = {s.step_id: s for s in result.steps}
    assert steps["first_email"].status == StepStatus.FELL_BACK
    assert steps["first_email_fallback_sms"].status == StepStatus.DONE
    assert steps["first_sms"].status == StepStatus.SKIPPED
    messages = await store.messages.for_workflow(handle.id)
    assert [m.channel for m in messages] == ["sms"]


async def test_capped_sms_moves_to_the_next_day(time_env, store, settings, ts_worker):
    # Another sequence already texted F3 (UTC, no email) today: the daily SMS cap is used up.
    message, _ = await store.messages.record(
        idempotency_key="other-sequence/run/sms",
        family_id="F3",
        workflow_id="intervention-other-F3",
        step_id="sms",
        channel="sms",
        provider="outbox",
        provider_message_id="outbox-1",
        recipient="+15550100003",
        subject=None,
        body="earlier text",
    )
    # "Today" on the test server's clock, which runs ahead of the wall clock once it skips.
    async with store.sessions.begin() as session:
        row = await session.get(Message, message.id)
        assert row is not None
        row.created_at = await time_env.get_current_time()
    handle = await start(time_env, store, settings, family="F3")
    await handle.signal("approve", COORDINATOR)
    result = await handle.result()

    steps = {s.step_id: s for s in result.steps}
    fallback = steps["first_email_fallback_sms"]  # F3 has no email: the SMS is its fallback
    assert fallback.status == StepStatus.DONE
    assert fallback.started_at is not None and fallback.due_at is not None
    began = steps["first_email"].started_at or steps["first_email"].due_at
    assert began is not None
    next_midnight = datetime.combine(began.date() + timedelta(days=1), datetime.min.time(), UTC)
    assert fallback.due_at == next_midnight
    assert next_midnight <= fallback.started_at < next_midnight + timedelta(minutes=1)
    assert fallback.due_reason and "frequency cap: 1 a day by sms" in fallback.due_reason

    summaries = [
        event.user_metadata.summary.data.decode()
        async for event in handle.fetch_history_events()
        if event.HasField("user_metadata") and event.user_metadata.HasField("summary")
    ]
    assert any("Wait for the SMS cap (1 a day)" in s for s in summaries), summaries
    # The send checked its own cap (patch caps-in-send): refused once, not counted as a try.
    refusals = [
        event.activity_task_failed_event_attributes.failure.application_failure_info.type
        async for event in handle.fetch_history_events()
        if event.HasField("activity_task_failed_event_attributes")
    ]
    assert refusals == ["FrequencyCapped"]
    assert fallback.attempts == 1


def test_cap_windows_follow_the_local_calendar():
    # 03:30 UTC on a Monday is still Sunday evening in New York.
    now = datetime(2026, 3, 9, 3, 30, tzinfo=UTC)
    start, end = cap_window(now, "America/New_York", FrequencyCap(limit=1, per="day"))
    assert (start, end) == (
        datetime(2026, 3, 8, 5, 0, tzinfo=UTC),  # Sunday 00:00 EST
        datetime(2026, 3, 9, 4, 0, tzinfo=UTC),  # Monday 00:00 EDT: a 23-hour day
    )
    week_start, week_end = cap_window(now, "America/New_York", FrequencyCap(limit=3, per="week"))
    assert week_start == datetime(2026, 3, 2, 5, 0, tzinfo=UTC)
    assert week_end == datetime(2026, 3, 9, 4, 0, tzinfo=UTC)


# ----------------------------------------------------------------------- send windows


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
