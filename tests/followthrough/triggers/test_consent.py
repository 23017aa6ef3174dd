"""Consent at the start: refused only when every channel the template could use is closed."""

from __future__ import annotations

from typing import Any

import pytest

from contracts import Channel, FamilyContext, SequenceParams, channels
from followthrough.triggers.consent import channels_of, check_consent
from followthrough.triggers.errors import NoConsent

EVERY = list(channels.CHANNELS)


def data_template(*steps: dict[str, Any]) -> SequenceParams:
    return SequenceParams.model_validate(
        {"name": "reach", "workflow": "TemplateIntervention", "steps": list(steps)}
    )


def family(opted_out: list[Channel], given: list[Channel] = EVERY) -> FamilyContext:
    return FamilyContext(family_id="F1", timezone="UTC", channels=given, opted_out=opted_out)


CODE = SequenceParams.model_validate({"name": "code", "workflow": "HighRiskIntervention"})
EMAIL_THEN_SMS = data_template(
    {"id": "hello", "type": "email", "message": "Hi"},
    {"id": "nudge", "type": "sms", "message": "Hi", "fallback": "call"},
)


def test_a_code_defined_template_may_use_every_channel() -> None:
    assert channels_of(CODE) == frozenset(EVERY)


def test_a_data_template_uses_its_steps_channels_and_their_fallbacks() -> None:
    assert channels_of(EMAIL_THEN_SMS) == {Channel.EMAIL, Channel.SMS, Channel.CALL}
    waiting = data_template({"id": "pause", "type": "wait", "duration": "1d"})
    assert channels_of(waiting) == frozenset()


@pytest.mark.parametrize("open_channel", EVERY)
def test_one_open_channel_is_enough(open_channel: Channel) -> None:
    check_consent(CODE, family([c for c in EVERY if c != open_channel]))


def test_opted_out_of_every_channel_is_refused_naming_them() -> None:
    with pytest.raises(NoConsent) as refused:
        check_consent(EMAIL_THEN_SMS, family([Channel.EMAIL, Channel.SMS, Channel.CALL]))
    assert str(refused.value) == (
        "consent: family F1 opted out of every channel reach uses (call, email, sms); start refused"
    )


def test_a_channel_that_needs_an_opt_in_never_given_counts_as_opted_out() -> None:
    others: list[Channel] = [c for c in EVERY if c != Channel.WHATSAPP]
    not_given = family(others, given=others)
    with pytest.raises(NoConsent, match=r"\(call, email, sms, whatsapp: no opt-in\)"):
        check_consent(CODE, not_given)
    # Given, it is open; opted out of after all, it is named as opted out.
    check_consent(CODE, family(others))
    with pytest.raises(NoConsent, match=r"\(call, email, sms, whatsapp\)"):
        check_consent(CODE, family(EVERY, given=others))


def test_a_template_that_contacts_nobody_is_not_refused() -> None:
    waiting = data_template({"id": "pause", "type": "wait", "duration": "1d"})
    check_consent(waiting, family(EVERY))
