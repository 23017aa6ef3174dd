"""A wrong signal input is refused with one line naming the field, and a near-miss key is named."""

from __future__ import annotations

from typing import Any

import pytest

from contracts import Decision
from contracts.signals import check_signal


@pytest.mark.parametrize(
    ("value", "line"),
    [
        (
            {"aprover": "sarah", "role": "coordinator"},
            "approver is required (is 'aprover' meant to be approver?)",
        ),
        ({"Approver": "sarah", "role": "coordinator"}, "approver is required (is 'Approver'"),
        (
            {"approver": "sarah", "rol": "coordinator"},
            "role is required (is 'rol' meant to be role?)",
        ),
        ({"approver": "sarah", "colour": "blue"}, "role is required"),
        ({"approver": "sarah"}, "role is required"),
        (["sarah"], "input: must be a JSON object"),
    ],
)
def test_a_wrong_approval_is_refused_in_one_line(value: Any, line: str) -> None:
    found, why = check_signal(Decision, value)

    assert found is None
    assert why is not None and why.startswith(line)
    assert "\n" not in why


def test_an_unrelated_key_is_not_offered_as_a_misspelling() -> None:
    _, why = check_signal(Decision, {"approver": "sarah", "colour": "blue"})

    assert why == "role is required"


def test_a_right_approval_is_accepted() -> None:
    found, why = check_signal(Decision, {"approver": "sarah", "role": "coordinator"})

    assert why is None and found is not None and found.approver == "sarah"
