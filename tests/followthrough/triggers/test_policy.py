"""Cooldown, upgrade and event triggers on the real dev server."""

from __future__ import annotations

from contracts import CancelRequest, InterventionResult, SequenceParams, State
from followthrough.triggers.events import send_event
from followthrough.triggers.start import TriggerError, predict

EVENT_TEMPLATE = {
    "name": "missed_payment",
    "urgent": True,
    "quiet_hours": None,
    "trigger": {"type": "event", "event": "payment_missed"},
    "messages": {
        "reminder": {"subject": "Payment", "body": "Hi {{ first_name }}, a payment is overdue."}
    },
    "steps": [
        # An email, then an SMS: one message per channel stays clear of frequency caps.
        {"id": "reminder", "type": "email", "template": "reminder"},
        {"id": "pause", "type": "wait", "duration": "2s"},
        {
            "id": "again",
            "type": "condition",
            "if": {"field": "events.payment_missed.attempt", "op": ">=", "value": 2},
            "then": "final",
            "else": "end",
        },
        {"id": "final", "type": "sms", "message": "Second notice, {{ first_name }}."},
    ],
}


async def test_event_starts_then_signals_the_running_sequence(
    dev_client, dev_worker, store, settings
):
    await store.templates.save(SequenceParams.model_validate(EVENT_TEMPLATE))
    queue = settings.task_queue
    first = await send_event(
        dev_client, store, "payment_missed", "F1", {"attempt": 1}, task_queue=queue
    )
    second = await send_event(
        dev_client, store, "payment_missed", "F1", {"attempt": 2}, task_queue=queue
    )
    assert first.workflow_id == second.workflow_id == "intervention-missed_payment-F1"
    assert first.handle is not None and second.handle is not None
    result = await first.handle.result()
    assert result.outcome == "sms sent"
    assert [s.step_id for s in result.steps] == ["reminder", "pause", "again", "final"]
    assert second.handle.result_run_id == first.handle.result_run_id
    messages = await store.messages.for_workflow(first.workflow_id)
    assert [m.body for m in messages][-1] == "Second notice, Martinez."


async def test_event_without_a_bound_template(dev_client, store, settings):
    try:
        await send_event(dev_client, store, "no_such_event", "F1", task_queue="q")
    except TriggerError as err:
        assert str(err) == "event: no active template is bound to event 'no_such_event'"
    else:
        raise AssertionError("expected a TriggerError")


async def test_a_heavier_prediction_upgrades_then_cooldown_holds(
    dev_client, dev_worker, store, settings
):
    queue = settings.task_queue
    light = await predict(dev_client, store, "F2", 0.65, 75, task_queue=queue)
    assert light.started and light.template == "medium_risk_intervention"

    heavy = await predict(dev_client, store, "F2", 0.9, 90, task_queue=queue)
    assert heavy.started and heavy.template == "high_risk_intervention"
    assert heavy.message.endswith("(upgraded: cancelled medium_risk_intervention)")
    assert light.handle is not None
    lighter: InterventionResult = await light.handle.result()
    assert lighter.state == State.CANCELLED
    assert lighter.outcome == "cancelled: superseded by high_risk_intervention"

    assert heavy.handle is not None
    await heavy.handle.signal("cancel", CancelRequest(reason="test over"))
    await heavy.handle.result()
    # Both templates have a 30-day cooldown: a new prediction starts nothing now.
    again = await predict(dev_client, store, "F2", 0.9, 90, task_queue=queue)
    assert not again.started
    assert "within its 30-day cooldown" in again.message
