"""Conditions against a mapping of facts: operators, nesting, missing fields, explanations."""

from __future__ import annotations

from typing import Any

import pytest

from activities.conditions import evaluate
from contracts import Condition

FACTS: dict[str, Any] = {
    "engagement_score": 42,
    "preferred_channel": "sms",
    "response_received": False,
    "events": {"payment_received": {"amount": 120}},
    "nothing": None,
}


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ({"field": "engagement_score", "op": ">", "value": 40}, True),
        ({"field": "engagement_score", "op": "<=", "value": 41}, False),
        ({"field": "preferred_channel", "op": "in", "value": ["sms", "call"]}, True),
        ({"field": "response_received", "op": "!=", "value": True}, True),
        ({"field": "events.payment_received.amount", "op": ">=", "value": 100}, True),
        ({"field": "events.refund", "op": "exists"}, False),
        ({"field": "nothing", "op": "exists", "value": False}, True),
        ({"field": "preferred_channel", "op": ">", "value": 3}, False),  # no order: False
        ({"all": [{"field": "engagement_score", "op": ">", "value": 1}, {"field": "x"}]}, False),
        ({"any": [{"field": "x"}, {"field": "preferred_channel", "value": "sms"}]}, True),
        ({"not": {"field": "response_received", "value": True}}, True),
    ],
)
def test_conditions(condition: dict[str, Any], expected: bool) -> None:
    value, _ = evaluate(Condition.model_validate(condition), FACTS)
    assert value is expected


def test_the_explanation_says_why() -> None:
    value, why = evaluate(Condition(field="engagement_score", op=">", value=50), FACTS)
    assert (value, why) == (False, "engagement_score=42 > 50")
    assert evaluate(Condition(field="missing"), FACTS) == (False, "missing is missing")


def test_a_condition_needs_something_to_test() -> None:
    with pytest.raises(ValueError, match="needs a field"):
        evaluate(Condition(), FACTS)
