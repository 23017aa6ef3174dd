"""The start pipeline on the real dev server: its order, upgrades that are refused, consent."""

from __future__ import annotations

import asyncio
import contextlib
import re
import uuid
from datetime import UTC
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError

from contracts import SequenceParams, workflow_id_for
from followthrough.triggers.errors import NoConsent
from followthrough.triggers.governance import QuotaExceeded, count_running
from followthrough.triggers.limits import TooManyActive, active_query
from followthrough.triggers.start import predict, start_sequence, trigger
from store import Prediction, Store

ROOT = Path(__file__).resolve().parents[3]


async def _family(store: Store, *, opted_out: list[str] | None = None) -> str:
    family = f"P{uuid.uuid4().hex[:8]}"
    await store.families.upsert(
        family, "Pipeline", email="p@example.org", phone="+15550100009", timezone="UTC"
    )
    for channel in opted_out or []:
        await store.families.opt_out(family, channel)
    return family


async def _heavier(store: Store, **changes: Any) -> SequenceParams:
    """A prediction template heavier than every shipped one, for 0.95 / 95 and above."""
    high = await store.templates.active("high_risk_intervention")
    assert high is not None and high.trigger.when is not None
    probe = high.model_copy(
        update={
            "name": f"heavier_{uuid.uuid4().hex[:8]}",
            "priority": 10,
            "max_active": None,
            "trigger": high.trigger.model_copy(
                update={
                    "when": high.trigger.when.model_copy(
                        update={"probability_gt": 0.95, "confidence_gt": 95.0}
                    )
                }
            ),
            **changes,
        }
    )
    saved, _ = await store.templates.save(probe)
    return saved


async def _until(check: Any, what: str) -> None:
    for _ in range(100):  # visibility trails a start by a moment
        if await check():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"never: {what}")


async def _signals(client: Client, workflow_id: str) -> list[str]:
    names = []
    async for event in client.get_workflow_handle(workflow_id).fetch_history_events():
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
            names.append(event.workflow_execution_signaled_event_attributes.signal_name)
    return names


async def _still_running(client: Client, workflow_id: str) -> None:
    """The lighter sequence was left alone: running, never told to cancel."""
    assert "cancel" not in await _signals(client, workflow_id)
    described = await client.get_workflow_handle(workflow_id).describe()
    assert described.status == WorkflowExecutionStatus.RUNNING


async def _stop(client: Client, *workflow_ids: str) -> None:
    for workflow_id in workflow_ids:  # no worker polls the test's queue
        with contextlib.suppress(RPCError):
            await client.get_workflow_handle(workflow_id).terminate("test over")


async def test_an_upgrade_past_the_heavier_templates_quota_leaves_the_lighter_running(
    dev_client: Client, store: Store, settings
):
    queue = settings.task_queue
    family, other = await _family(store), await _family(store)
    heavier = await _heavier(store, max_active=1)
    light = await predict(dev_client, store, family, 0.65, 75, task_queue=queue)
    assert light.started and light.workflow_id is not None
    full = await start_sequence(dev_client, heavier, other, task_queue=queue)
    try:
        await _until(
            lambda: _equals(count_running(dev_client, heavier.name), 1), "the quota is used"
        )
        with pytest.raises(QuotaExceeded, match=f"max_active: {heavier.name} already runs 1"):
            await predict(dev_client, store, family, 0.99, 99, task_queue=queue)
        await _still_running(dev_client, light.workflow_id)
        async with store.sessions() as session:
            rows = await session.scalars(
                select(Prediction.outcome)
                .where(Prediction.family_id == family)
                .order_by(Prediction.id)
            )
            assert list(rows) == ["started", "refused"]
    finally:
        await _stop(dev_client, light.workflow_id, str(full.workflow_id))


async def test_an_upgrade_past_the_family_limit_leaves_the_lighter_running(
    dev_client: Client, store: Store, settings
):
    queue = settings.task_queue
    family = await _family(store)
    heavier = await _heavier(store, max_active_per_family=1)
    light = await predict(dev_client, store, family, 0.65, 75, task_queue=queue)
    assert light.started and light.workflow_id is not None
    demo = await store.templates.active("demo_quick_intervention")
    assert demo is not None
    other = await start_sequence(dev_client, demo, family, task_queue=queue)
    try:
        await _until(
            lambda: _counted(dev_client, active_query(family), 2), "both sequences are visible"
        )
        # The lighter one would be replaced, so it does not count; the other one does.
        with pytest.raises(TooManyActive, match=f"{heavier.name} allows at most 1"):
            await predict(dev_client, store, family, 0.99, 99, task_queue=queue)
        await _still_running(dev_client, light.workflow_id)
    finally:
        await _stop(dev_client, light.workflow_id, str(other.workflow_id))


async def test_an_upgrade_starts_the_heavier_before_it_cancels_the_lighter(
    dev_client: Client, store: Store, settings
):
    queue = settings.task_queue
    family = await _family(store)
    heavier = await _heavier(store)
    light = await predict(dev_client, store, family, 0.65, 75, task_queue=queue)
    heavy = await predict(dev_client, store, family, 0.99, 99, task_queue=queue)
    try:
        assert heavy.started and heavy.template == heavier.name
        assert heavy.message.endswith("(upgraded: cancelled medium_risk_intervention)")
        assert heavy.handle is not None and light.workflow_id is not None
        started = (await heavy.handle.describe()).start_time
        cancel_sent = None
        async for event in dev_client.get_workflow_handle(light.workflow_id).fetch_history_events():
            if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
                cancel_sent = event.event_time.ToDatetime().replace(tzinfo=UTC)
        assert cancel_sent is not None and cancel_sent >= started
        assert heavy.status == "upgraded"
    finally:
        await _stop(dev_client, str(light.workflow_id), str(heavy.workflow_id))


async def test_a_family_opted_out_of_every_channel_the_template_uses_is_not_started(
    dev_client: Client, store: Store, settings
):
    sms_only = SequenceParams.model_validate(
        {
            "name": f"sms_only_{uuid.uuid4().hex[:8]}",
            "quiet_hours": None,
            "steps": [{"id": "nudge", "type": "sms", "message": "Hello"}],
        }
    )
    await store.templates.save(sms_only)
    no_sms = await _family(store, opted_out=["sms"])
    with pytest.raises(NoConsent) as refused:
        await trigger(dev_client, store, sms_only.name, no_sms, task_queue=settings.task_queue)
    assert str(refused.value) == (
        f"consent: family {no_sms} opted out of every channel {sms_only.name} uses (sms); "
        "start refused"
    )
    # A code-defined template may use any channel: only a family opted out of all is refused.
    everything = await _family(store, opted_out=["email", "sms", "call"])
    with pytest.raises(NoConsent, match=r"\(call, email, sms, whatsapp: no opt-in\)"):
        await trigger(
            dev_client, store, "demo_quick_intervention", everything, task_queue=settings.task_queue
        )
    email_only = await _family(store, opted_out=["email"])
    outcome = await trigger(
        dev_client, store, sms_only.name, email_only, task_queue=settings.task_queue
    )
    assert outcome.status == "started"
    await _stop(dev_client, workflow_id_for(sms_only.name, email_only))


def test_start_workflow_is_called_in_one_place_only():
    callers = []
    for path in sorted(ROOT.rglob("*.py")):
        parts = path.relative_to(ROOT).parts
        if parts[0] in {".venv", "tests", "bench", "build", "mutants"} or parts[0].startswith("."):
            continue
        if re.search(r"\.start_workflow\(", path.read_text(encoding="utf-8")):
            callers.append("/".join(parts))
    assert callers == ["followthrough/triggers/pipeline.py"]


async def _equals(count: Any, expected: int) -> bool:
    return await count == expected


async def _counted(client: Client, query: str, expected: int) -> bool:
    return (await client.count_workflows(query)).count == expected
