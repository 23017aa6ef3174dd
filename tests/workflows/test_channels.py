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
