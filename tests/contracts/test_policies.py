"""The parts templates are built from: durations as people write them, retry bounds."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError

from contracts.policies import EscalationSpec, RetrySpec, parse_duration


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("90s", timedelta(seconds=90)),
        ("5m", timedelta(minutes=5)),
        ("2h", timedelta(hours=2)),
        ("3d", timedelta(days=3)),
        ("1w", timedelta(weeks=1)),
        ("1.5h", timedelta(minutes=90)),
        (30, timedelta(seconds=30)),
        ("P3D", timedelta(days=3)),  # what a stored snapshot serialises to
        (timedelta(hours=1), timedelta(hours=1)),
    ],
)
def test_durations_as_written(written: object, expected: timedelta) -> None:
    assert parse_duration(written) == expected


@pytest.mark.parametrize("written", ["soon", "-3d", -1, True, None, "3 fortnights"])
def test_what_is_not_a_duration(written: object) -> None:
    with pytest.raises(ValueError):
        parse_duration(written)


def test_policies_read_durations_and_refuse_unknown_fields() -> None:
    assert RetrySpec.model_validate({"initial_interval": "5m"}).initial_interval == timedelta(
        minutes=5
    )
    assert EscalationSpec.model_validate({"timeout": "2d"}).timeout == timedelta(days=2)
    with pytest.raises(ValidationError):
        RetrySpec.model_validate({"max_attempts": 0})
    with pytest.raises(ValidationError):
        EscalationSpec.model_validate({"on_timeout": "explode"})
    with pytest.raises(ValidationError):
        EscalationSpec.model_validate({"asign_to": "coordinator"})


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        (0, timedelta(0)),
        (0.5, timedelta(seconds=0.5)),
        ("PT0S", timedelta(0)),
        ("0s", timedelta(0)),
    ],
)
def test_zero_and_fractions_are_durations(written: object, expected: timedelta) -> None:
    assert parse_duration(written) == expected


def test_a_negative_number_of_seconds_says_so() -> None:
    with pytest.raises(ValueError, match="^a duration cannot be negative$"):
        parse_duration(-0.5)
