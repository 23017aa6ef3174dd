"""Sends go through their channel's task queue, and one that waited there past its allowed
hours is placed again rather than sent at night (time-skipping server)."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from contracts import Channel, QuietHours, SequenceParams, channels
from followthrough.platform.send_queues import Workers
from followthrough.platform.settings import Settings
from followthrough.triggers.start import start_sequence
from store import Store
from worker import build_worker

WORKFLOW_ID = "intervention-one_email-F1"  # F1 lives in UTC


def one_email(quiet: QuietHours | None) -> SequenceParams:
    return SequenceParams.model_validate(
        {
            "name": "one_email",
            "quiet_hours": quiet,
            "caps": {},
            "steps": [{"id": "hello", "type": "email", "message": "Hello {{ first_name }}"}],
        }
    )


async def start(client: Client, settings: Settings, params: SequenceParams) -> Any:
    outcome = await start_sequence(client, params, "F1", task_queue=settings.task_queue)
    assert outcome.handle is not None, outcome.message
    return outcome.handle


async def scheduled_sends(handle: WorkflowHandle[Any, Any]) -> list[Any]:
    history = await handle.fetch_history()
    return [
        e.activity_task_scheduled_event_attributes
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
        and e.activity_task_scheduled_event_attributes.activity_type.name == "send_email"
    ]


async def test_a_send_goes_through_its_channel_queue_with_a_timeout_for_the_wait(
    time_env: WorkflowEnvironment, store: Store, settings: Settings, ts_worker: Workers
) -> None:
    params = one_email(None)
    handle = await start(time_env.client, settings, params)
    await handle.result()
    [send] = await scheduled_sends(handle)
    assert send.task_queue.name == f"{settings.task_queue}-email"
    assert send.schedule_to_close_timeout.ToTimedelta() == channels.send_timeout(params.retry)
    assert send.schedule_to_close_timeout.ToTimedelta() > timedelta(days=1)


async def test_a_send_that_waited_past_its_hours_is_not_sent_at_night(
    dev_client: Client, store: Store, settings: Settings
) -> None:
    """The email is due now; its queue is not served until quiet hours have begun. When it
    starts then, it refuses, and the sequence sends it when the quiet hours end.

    On the real server, with quiet hours a few seconds long: the time-skipping server does not
    skip time while a task waits in a queue, which is the whole point here."""
    now = datetime.now(UTC).replace(microsecond=0)
    night_starts, night_ends = now + timedelta(seconds=10), now + timedelta(seconds=14)
    quiet = QuietHours(start=night_starts.time(), end=night_ends.time(), weekends=False)
    async with httpx.AsyncClient() as http, AsyncExitStack() as running:
        workers = build_worker(dev_client, store, http, settings)
        await running.enter_async_context(workers.main)  # no worker on the send queues yet
        handle = await start(dev_client, settings, one_email(quiet))
        # The email waits in its queue into the night.
        await asyncio.sleep((night_starts - datetime.now(UTC)).total_seconds() + 1)
        assert await store.messages.for_workflow(WORKFLOW_ID) == []
        await running.enter_async_context(workers.sends[Channel.EMAIL])
        result = await handle.result()

    [message] = await store.messages.for_workflow(WORKFLOW_ID)
    sent_at = message.created_at.replace(tzinfo=UTC)
    assert sent_at >= night_ends
    [step] = result.steps
    assert step.due_reason is not None
    assert step.due_reason.startswith("waited in the email queue past its hours; quiet hours")
    history = await handle.fetch_history()
    refused = [
        e.activity_task_failed_event_attributes.failure.application_failure_info.type
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED
    ]
    assert refused == ["OutsideAllowedHours"]
    assert len(await scheduled_sends(handle)) == 2  # refused at night, sent in the morning
