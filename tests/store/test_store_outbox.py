"""Predictions, the message outbox and the step audit trail."""

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.exc import IntegrityError

from contracts import Channel, StepRef
from store import Family, StepExecution, Store
from store.audit import step_for


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


def _ref(step_id: str = "first_email") -> StepRef:
    return StepRef(
        workflow_id="wf-1",
        run_id="run-1",
        step_id=step_id,
        template="payment_reminder",
        template_version=1,
    )


def _audit(family_id: str, ref: StepRef) -> StepExecution:
    return step_for(
        ref, family_id=family_id, kind="email", channel="email", outcome="sent", attempts=1
    )


async def test_a_message_and_its_audit_row_in_one_call(store: Store, family_id: str) -> None:
    ref = _ref()
    key = ref.idempotency_key
    first, created = await _message(store, family_id, key, audit=_audit(family_id, ref))
    again, created_again = await _message(store, family_id, key, audit=_audit(family_id, ref))

    assert (created, created_again) == (True, False)
    assert again.id == first.id
    steps = await store.steps.for_workflow("wf-1")
    assert [(s.idempotency_key, s.step_id, s.outcome) for s in steps] == [
        (key, "first_email", "sent")
    ]


async def test_concurrent_sends_with_audit_make_one_row_each(store: Store, family_id: str) -> None:
    ref = _ref()
    key = ref.idempotency_key
    results = await asyncio.gather(
        *(_message(store, family_id, key, audit=_audit(family_id, ref)) for _ in range(3))
    )

    assert sorted(created for _, created in results) == [False, False, True]
    assert len({message.id for message, _ in results}) == 1
    assert len(await store.steps.for_workflow("wf-1")) == 1


async def test_whichever_row_is_missing_is_written(store: Store, family_id: str) -> None:
    # An audit row stored without its message (and the other way round): the call adds the
    # missing one and keeps the stored one.
    ref, other = _ref("a"), _ref("b")
    step, _ = await store.steps.add(
        step_for(ref, family_id=family_id, kind="email", outcome="sent", attempts=7)
    )
    message, created = await _message(
        store, family_id, ref.idempotency_key, audit=_audit(family_id, ref)
    )
    assert created and message.idempotency_key == ref.idempotency_key
    stored = await store.steps.get_by_key(ref.idempotency_key)
    assert stored is not None and (stored.id, stored.attempts) == (step.id, 7)

    existing, _ = await _message(store, family_id, other.idempotency_key)
    again, created = await _message(
        store, family_id, other.idempotency_key, audit=_audit(family_id, other)
    )
    assert not created and again.id == existing.id
    assert await store.steps.get_by_key(other.idempotency_key) is not None


async def test_an_unknown_family_fails_both_rows(store: Store, family_id: str) -> None:
    ref = _ref()
    with pytest.raises(IntegrityError):
        await _message(store, "nobody", ref.idempotency_key, audit=_audit("nobody", ref))
    assert await store.messages.get_by_key(ref.idempotency_key) is None
    assert await store.steps.get_by_key(ref.idempotency_key) is None


async def test_before_send_reads_the_message_and_the_family(store: Store, family_id: str) -> None:
    ref = _ref()
    key = ref.idempotency_key
    sent, family, counted = await store.messages.before_send(key, family_id)
    assert sent is None and family is not None and family.email == "rivera@example.org"
    assert counted == 0

    await _message(store, family_id, key)
    sent, family, _ = await store.messages.before_send(key, "nobody")
    assert sent is not None and sent.idempotency_key == key and family is None


async def test_before_send_counts_the_caps_window(store: Store, family_id: str) -> None:
    day = datetime(2026, 11, 20, tzinfo=UTC)
    for number, sent_at in enumerate([day, day + timedelta(hours=5), day + timedelta(days=1)]):
        await _message(store, family_id, f"k{number}", sent_at=sent_at)
    await _message(store, family_id, "sms", channel=Channel.SMS, sent_at=day)
    timezones: list[str] = []

    def window(family: Family) -> tuple[datetime, datetime]:
        timezones.append(family.timezone)
        return day, day + timedelta(days=1)

    looked = await store.messages.before_send("new", family_id, channel="email", cap_window=window)
    assert looked.sent_in_window == 2  # the email a day later and the SMS do not count
    assert timezones == [looked.family.timezone if looked.family else None]


async def test_before_send_stores_the_carried_rows_once(store: Store, family_id: str) -> None:
    wait, skip = _ref("wait"), _ref("skip")
    for _ in range(2):  # a retry carries the same rows
        carried = [
            step_for(wait, family_id=family_id, kind="wait", outcome="no reply", attempts=1),
            step_for(skip, family_id=family_id, kind="sms", outcome="skipped", attempts=1),
        ]
        await store.messages.before_send(_ref().idempotency_key, family_id, carried)

    steps = await store.steps.for_workflow("wf-1")
    assert [(s.idempotency_key, s.outcome) for s in steps] == [
        (wait.idempotency_key, "no reply"),
        (skip.idempotency_key, "skipped"),
    ]
