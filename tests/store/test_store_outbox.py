"""Predictions, the message outbox and the step audit trail."""

import asyncio
from typing import Any

import pytest

from contracts import Channel
from store import Store


async def _message(store: Store, family_id: str, key: str, **changes: Any):
    fields: dict[str, Any] = {
        "idempotency_key": key,
        "family_id": family_id,
        "workflow_id": "wf-1",
        "step_id": "first_email",
        "channel": Channel.EMAIL,
        "provider": "fake-email",
        "provider_message_id": f"pm-{key}",
        "recipient": "rivera@example.org",
        "subject": "Hello",
        "body": "Dear Rivera",
        **changes,
    }
    return await store.messages.record(**fields)


async def _step(store: Store, family_id: str, key: str, **changes: Any):
    fields: dict[str, Any] = {
        "idempotency_key": key,
        "workflow_id": "wf-1",
        "run_id": "run-1",
        "step_id": key,
        "family_id": family_id,
        "template": "payment_reminder",
        "template_version": 1,
        "prediction_id": None,
        "kind": "email",
        "channel": "email",
        "provider_message_id": "pm-1",
        "attempts": 1,
        "outcome": "sent",
        "error_type": None,
        **changes,
    }
    return await store.steps.record(**fields)


async def test_concurrent_message_records_make_one_row(store: Store, family_id: str) -> None:
    results = await asyncio.gather(
        _message(store, family_id, "k1"), _message(store, family_id, "k1", provider_message_id="x")
    )

    assert sorted(created for _, created in results) == [False, True]
    stored = await store.messages.get_by_key("k1")
    assert stored is not None
    assert (stored.status, stored.channel) == ("sent", "email")
    assert {message.id for message, _ in results} == {stored.id}
    assert await store.messages.get_by_key("k2") is None


async def test_messages_by_family_and_workflow(store: Store, family_id: str) -> None:
    first, _ = await _message(store, family_id, "k1")
    second, _ = await _message(store, family_id, "k2", workflow_id="wf-2", subject=None)

    assert [m.id for m in await store.messages.for_family(family_id)] == [first.id, second.id]
    assert [m.id for m in await store.messages.for_workflow("wf-2")] == [second.id]


async def test_concurrent_step_records_make_one_row(store: Store, family_id: str) -> None:
    results = await asyncio.gather(_step(store, family_id, "s1"), _step(store, family_id, "s1"))

    assert sorted(created for _, created in results) == [False, True]
    assert len(await store.steps.for_workflow("wf-1")) == 1


async def test_steps_are_in_time_order(store: Store, family_id: str) -> None:
    for key in ("s1", "s2", "s3"):
        await _step(store, family_id, key, workflow_id=f"wf-{key}")

    steps = await store.steps.for_family(family_id)

    assert [step.step_id for step in steps] == ["s1", "s2", "s3"]
    assert [step.created_at for step in steps] == sorted(step.created_at for step in steps)
    assert [step.step_id for step in await store.steps.for_workflow("wf-s2")] == ["s2"]


async def test_prediction_outcome(store: Store, family_id: str) -> None:
    prediction = await store.predictions.add(family_id, 0.82, 91.0, window_days=14)

    await store.predictions.set_outcome(
        prediction.id, template="payment_reminder", workflow_id="wf-1", outcome="started"
    )
    step, _ = await _step(store, family_id, "s1", prediction_id=prediction.id)

    assert prediction.model_version == "unknown"
    assert step.prediction_id == prediction.id
    with pytest.raises(LookupError):
        await store.predictions.set_outcome(
            prediction.id + 1000, template=None, workflow_id=None, outcome="below_threshold"
        )
