"""End to end on the real Temporal dev server: trigger, signal, query, history, store rows."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from contracts import InterventionResult, InterventionStatus, State
from followthrough import operations
from followthrough.platform.settings import Settings
from followthrough.triggers import start as triggers
from store import Store


async def until_state(client: Client, workflow_id: str, state: State) -> InterventionStatus:
    for _ in range(200):
        current = await operations.status(client, workflow_id)
        if current.state == state:
            return current
        await asyncio.sleep(0.1)
    raise AssertionError(f"{workflow_id} never reached {state}: {current.state}")


async def visible(client: Client, state: str, workflow_id: str) -> list[dict[str, Any]]:
    for _ in range(100):
        rows = await operations.list_sequences(client, state)
        if any(r["workflow_id"] == workflow_id for r in rows):
            return rows
        await asyncio.sleep(0.1)
    raise AssertionError(f"{workflow_id} not listed as {state}")


async def quick_template(store: Store) -> None:
    """A new version of the demo template with one-second waits (v1 stays stored)."""
    params = await store.templates.active("demo_quick_intervention")
    assert params is not None
    faster = params.model_copy(
        update={"delays": {"wait_for_reply": timedelta(seconds=1), "call_after": timedelta(0)}}
    )
    saved, created = await store.templates.save(faster)
    assert created and saved.version == 2


async def test_trigger_approve_and_inspect(dev_client, dev_worker, store, settings: Settings):
    await quick_template(store)
    outcome = await triggers.trigger(
        dev_client, store, "demo_quick_intervention", "F2", task_queue=settings.task_queue
    )
    assert outcome.started
    workflow_id = outcome.workflow_id
    assert workflow_id == "intervention-demo_quick_intervention-F2"

    again = await triggers.trigger(
        dev_client, store, "demo_quick_intervention", "F2", task_queue=settings.task_queue
    )
    assert not again.started and again.message.endswith("is already running")

    waiting = await until_state(dev_client, workflow_id, State.AWAITING_APPROVAL)
    assert waiting.template_version == 2
    assert [s.step_id for s in waiting.steps][:4] == [
        "first_email",
        "wait_reply",
        "answered",
        "first_sms",
    ]
    rows = await visible(dev_client, "awaiting_approval", workflow_id)
    row = next(r for r in rows if r["workflow_id"] == workflow_id)
    assert row["template"] == "demo_quick_intervention" and row["family_id"] == "F2"

    await operations.decide(dev_client, workflow_id, "approve", "sarah", "coordinator")
    handle = dev_client.get_workflow_handle(workflow_id, result_type=InterventionResult)
    result = await handle.result()
    assert result.state == State.COMPLETED and result.outcome == "call scheduled"
    await visible(dev_client, "completed", workflow_id)

    # The history reads as the story.
    summaries = []
    async for event in handle.fetch_history_events():
        if event.user_metadata.HasField("summary"):
            summaries.append(event.user_metadata.summary.data.decode())
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
            assert event.workflow_execution_signaled_event_attributes.signal_name == "approve"
    text = " | ".join(summaries)
    assert "Send email 'concern_outreach'" in text
    assert "Wait up to 1 second for a reply" in text
    assert "Wait up to 1 day for approval" in text

    # The store saw each side effect exactly once.
    messages = await store.messages.for_workflow(workflow_id)
    assert [(m.channel, m.provider) for m in messages] == [("email", "outbox"), ("sms", "outbox")]
    tasks = await store.tasks.list_open("call")
    assert [(t.workflow_id, t.family_id) for t in tasks] == [(workflow_id, "F2")]
    audit = await store.steps.for_workflow(workflow_id)
    assert {a.template_version for a in audit} == {2}


async def test_prediction_starts_high_risk_and_cancel(
    dev_client, dev_worker, store, settings: Settings
):
    outcome = await triggers.predict(
        dev_client, store, "F1", 0.87, 82.0, task_queue=settings.task_queue, window_days=32
    )
    assert outcome.started and outcome.template == "high_risk_intervention"
    low = await triggers.predict(
        dev_client, store, "F3", 0.41, 90.0, task_queue=settings.task_queue
    )
    assert not low.started and "below every active template's threshold" in low.message

    workflow_id = outcome.workflow_id
    assert workflow_id is not None
    await until_state(dev_client, workflow_id, State.SCHEDULED)
    await operations.cancel(dev_client, workflow_id, "family moved away", "sarah")
    handle = dev_client.get_workflow_handle(workflow_id, result_type=InterventionResult)
    result = await handle.result()
    assert result.state == State.CANCELLED
    assert result.outcome == "cancelled: family moved away"
