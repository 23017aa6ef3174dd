"""Channels from the registry under time-skipping: fallbacks between any two channels, and
a fallback that covers the next planned step on its channel."""

from __future__ import annotations

from typing import Any

from contracts import InterventionResult, SequenceParams, StepStatus
from followthrough.triggers.start import start_sequence
from store import Store


def template(*steps: dict[str, Any], **extra: Any) -> SequenceParams:
    return SequenceParams.model_validate(
        {
            "name": "channels_under_test",
            "quiet_hours": None,
            "caps": {},
            "steps": list(steps),
            **extra,
        }
    )


async def run(env: Any, settings: Any, params: SequenceParams, family: str) -> InterventionResult:
    outcome = await start_sequence(env.client, params, family, task_queue=settings.task_queue)
    assert outcome.handle is not None, outcome.message
    return await outcome.handle.result()


async def audit(store: Store, workflow_id: str) -> list[tuple[str, str]]:
    return [(r.step_id, r.outcome) for r in await store.steps.for_workflow(workflow_id)]


async def test_an_sms_step_falls_back_to_email(time_env, store, settings, ts_worker):
    await store.families.upsert("F4", "Novak", email="novak@example.org", timezone="UTC")
    sms = {"id": "remind", "type": "sms", "message": "Hi {{ first_name }}", "fallback": "email"}
    result = await run(time_env, settings, template(sms), "F4")
    steps = [(s.step_id, s.status) for s in result.steps]
    assert steps == [("remind", StepStatus.FELL_BACK), ("remind_fallback_email", StepStatus.DONE)]
    workflow_id = "intervention-channels_under_test-F4"
    messages = await store.messages.for_workflow(workflow_id)
    assert [(m.channel, m.recipient) for m in messages] == [("email", "novak@example.org")]
    assert ("remind", "fell back to email: no phone number") in await audit(store, workflow_id)


async def test_a_fallback_covers_the_next_planned_step_on_its_channel(
    time_env, store, settings, ts_worker
):
    """F3 has no email: the email falls back to SMS, so the planned SMS is not sent again;
    the SMS after it is (only the next planned step on the channel is covered)."""
    steps: list[dict[str, Any]] = [
        {"id": "hello", "type": "email", "message": "Hello", "fallback": "sms"},
        {"id": "pause", "type": "wait", "duration": "2d"},
        {"id": "nudge", "type": "sms", "message": "A nudge", "requires_approval": True},
        {"id": "later", "type": "sms", "message": "Still here", "delay": "1d"},
    ]
    result = await run(time_env, settings, template(*steps), "F3")
    by_id = {s.step_id: s for s in result.steps}
    assert by_id["nudge"].status == StepStatus.SKIPPED
    assert by_id["nudge"].result == "covered by the fallback hello_fallback_sms"
    workflow_id = "intervention-channels_under_test-F3"
    messages = await store.messages.for_workflow(workflow_id)
    assert [m.step_id for m in messages] == ["hello_fallback_sms", "later"]
    rows = await audit(store, workflow_id)
    assert ("hello", "fell back to sms: no email address") in rows
    assert ("nudge", "skipped: covered by the fallback hello_fallback_sms") in rows
