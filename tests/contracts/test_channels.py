"""The channel registry: one entry per channel, and the fallback chains templates may name."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from contracts import Channel, RetrySpec, SequenceParams, channels
from followthrough.templates import read_template
from tests.contracts.test_steps import problem, write


def test_every_channel_has_one_registry_entry() -> None:
    assert set(channels.CHANNELS) == set(Channel)
    for channel, entry in channels.CHANNELS.items():
        assert entry.channel == channel
        # A message is sent by its own activity; a task is for a person and has none.
        assert (entry.activity is not None) == entry.is_message


def test_an_unknown_channel_is_refused_by_name() -> None:
    assert channels.find("fax") is None
    with pytest.raises(ValueError, match="unknown channel 'fax'"):
        channels.spec("fax")


def test_caps_default_to_the_registry() -> None:
    params = SequenceParams(name="t", workflow="HighRiskIntervention")
    assert params.caps == channels.default_caps()
    assert params.caps[Channel.SMS].limit == 1


def test_an_sms_step_may_fall_back_to_email(tmp_path: Path) -> None:
    steps = [{"id": "remind", "type": "sms", "message": "hi", "fallback": "email"}]
    params = read_template(write(tmp_path, steps))
    assert params.steps is not None and params.steps[0].fallback == "email"
    # The email is where that chain ends: the registry gives email no fallback of its own.
    assert channels.fallback_chain(Channel.EMAIL, params.fallbacks) == [Channel.EMAIL]


@pytest.mark.parametrize(
    ("step", "extra", "expected"),
    [
        (
            {"id": "remind", "type": "sms", "message": "hi", "fallback": "sms"},
            {},
            "step 'remind': fallback: sms → sms loops",
        ),
        (
            {"id": "remind", "type": "sms", "message": "hi", "fallback": "email"},
            {"fallbacks": {"email": "sms"}},
            "step 'remind': fallback: sms → email → sms loops",
        ),
    ],
)
def test_a_fallback_loop_is_refused_naming_the_step(
    tmp_path: Path, step: dict[str, Any], extra: dict[str, Any], expected: str
) -> None:
    assert expected in problem(tmp_path, [step], **extra)


def test_a_loop_in_the_templates_fallbacks_is_refused(tmp_path: Path) -> None:
    steps = [{"id": "hello", "type": "email", "message": "hi"}]
    found = problem(tmp_path, steps, fallbacks={"sms": "email", "email": "sms"})
    # (the file's keys are written sorted: email comes first)
    assert "fallbacks.email: email → sms → email loops; end the chain with null" in found


def test_the_fallbacks_can_end_a_chain(tmp_path: Path) -> None:
    steps = [{"id": "remind", "type": "email", "message": "hi", "fallback": "sms"}]
    params = read_template(write(tmp_path, steps, fallbacks={"sms": None}))
    assert channels.fallback_chain(Channel.SMS, params.fallbacks) == [Channel.SMS]
    assert channels.fallback_chain(Channel.SMS, {}) == [Channel.SMS, Channel.CALL]


def test_a_whatsapp_step_is_read_and_its_default_window_checked(tmp_path: Path) -> None:
    steps = [{"id": "hello", "type": "whatsapp", "message": "Hi", "fallback": "sms"}]
    params = read_template(write(tmp_path, steps))
    assert params.steps is not None and params.steps[0].type == "whatsapp"
    assert "subject: does not apply to a whatsapp step" in problem(
        tmp_path, [{**steps[0], "subject": "Hello"}]
    )
    # Quiet from 08:00 to 20:00 leaves WhatsApp's default 09:00–19:00 window nothing.
    found = problem(tmp_path, steps, quiet_hours={"start": "08:00", "end": "20:00"})
    assert "send_windows.whatsapp (the channel's default): 09:00–19:00 lies entirely" in found


def test_a_send_may_wait_its_turn_in_the_queue_at_every_attempt() -> None:
    # Three attempts, each behind a full queue at the slowest rate: 100,000 s of waiting
    # and 30 s of sending each, with 5 and 10 minutes of backoff between them.
    retry = RetrySpec(max_attempts=3, initial_interval=timedelta(minutes=5), backoff=2.0)
    assert channels.send_timeout(retry) == 3 * timedelta(seconds=100_030) + timedelta(minutes=15)
    once = RetrySpec(max_attempts=1)
    wait = timedelta(seconds=channels.QUEUED_SENDS_BOUND / channels.MIN_RATE_PER_SECOND)
    assert channels.send_timeout(once) == wait + once.attempt_timeout


def test_the_backoff_is_capped_by_the_longest_interval() -> None:
    retry = RetrySpec(max_attempts=50, backoff=10.0, max_interval=timedelta(hours=1))
    backoff = timedelta(seconds=5 + 50 + 500) + 46 * timedelta(hours=1)  # then capped
    assert channels.send_timeout(retry) == 50 * timedelta(seconds=100_030) + backoff
