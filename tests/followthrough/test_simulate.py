"""The dry run records every channel of the registry, and places WhatsApp in its window."""

from __future__ import annotations

from contracts import Channel, FamilyContext, SequenceParams, StepStatus
from followthrough.simulate import simulate


async def test_a_whatsapp_step_is_recorded_in_its_send_window() -> None:
    params = SequenceParams.model_validate(
        {
            "name": "whatsapp_dry_run",
            "quiet_hours": None,
            "steps": [{"id": "hello", "type": "whatsapp", "message": "Hi", "fallback": "sms"}],
        }
    )
    family = FamilyContext(
        family_id="W1", timezone="UTC", channels=[Channel.WHATSAPP, Channel.SMS, Channel.CALL]
    )
    run = await simulate(params, family)
    [step] = run.result.steps
    assert (step.step_id, step.status) == ("hello", StepStatus.DONE)
    assert run.calls == [("hello", "whatsapp 'hello'")]
    assert step.started_at is not None and 9 <= step.started_at.hour < 19
