"""The pure parts of starting by prediction: which scores are possible, which template wins."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts import PredictionRef, SequenceParams
from followthrough.triggers.errors import TriggerError
from followthrough.triggers.start import MAX_WINDOW_DAYS, _best_match, check_prediction


@given(
    st.floats(0.0, 1.0),
    st.floats(0.0, 100.0),
    st.none() | st.integers(0, MAX_WINDOW_DAYS),
)
def test_every_possible_score_is_accepted(p: float, c: float, window: int | None) -> None:
    check_prediction(p, c, window)


@pytest.mark.parametrize(
    ("probability", "confidence", "window"), [(0.0, 0.0, 0), (1.0, 100.0, MAX_WINDOW_DAYS)]
)
def test_the_bounds_themselves_are_possible(
    probability: float, confidence: float, window: int
) -> None:
    check_prediction(probability, confidence, window)


@pytest.mark.parametrize(
    ("probability", "confidence", "window", "message"),
    [
        (-0.01, 50, None, "probability: must be between 0 and 1, got -0.01"),
        (1.01, 50, None, "probability: must be between 0 and 1, got 1.01"),
        (float("nan"), 50, None, "probability: must be between 0 and 1, got nan"),
        (0.5, -1, None, "confidence: must be between 0 and 100, got -1"),
        (0.5, 100.5, None, "confidence: must be between 0 and 100, got 100.5"),
        (0.5, 1e309, None, "confidence: must be between 0 and 100, got inf"),
        (0.5, 50, -1, "window-days: must be between 0 and 3650, got -1"),
        (0.5, 50, 3651, "window-days: must be between 0 and 3650, got 3651"),
    ],
)
def test_an_impossible_score_is_refused_naming_it(
    probability: float, confidence: float, window: int | None, message: str
) -> None:
    with pytest.raises(TriggerError) as refused:
        check_prediction(probability, confidence, window)
    assert str(refused.value) == message


def template(
    name: str, priority: int, p: float = 0.5, c: float = 50, **extra: Any
) -> SequenceParams:
    rule = {"probability_gt": p, "confidence_gt": c}
    return SequenceParams.model_validate(
        {
            "name": name,
            "workflow": "HighRiskIntervention",
            "priority": priority,
            "trigger": {"type": "prediction", "when": rule},
            **extra,
        }
    )


def ref(p: float, c: float) -> PredictionRef:
    return PredictionRef(probability=p, confidence=c)


def test_the_heaviest_matching_template_wins() -> None:
    light, heavy = template("light", 1, p=0.3), template("heavy", 9, p=0.8)
    assert _best_match([light, heavy], ref(0.9, 80)) == heavy
    assert _best_match([heavy, light], ref(0.9, 80)) == heavy
    assert _best_match([light, heavy], ref(0.5, 80)) == light


def test_both_scores_must_pass_the_rule() -> None:
    rule = template("rule", 1, p=0.5, c=60)
    assert _best_match([rule], ref(0.6, 60)) is None  # confidence not above 60
    assert _best_match([rule], ref(0.5, 90)) is None  # probability not above 0.5
    assert _best_match([rule], ref(0.51, 61)) == rule


def test_inactive_and_non_prediction_templates_never_match() -> None:
    inactive = template("inactive", 9, active=False)
    manual = SequenceParams.model_validate(
        {"name": "manual", "workflow": "HighRiskIntervention", "priority": 9}
    )
    active = template("active", 1)
    assert _best_match([inactive, manual, active], ref(0.9, 90)) == active
    assert _best_match([inactive, manual], ref(0.9, 90)) is None
    assert _best_match([], ref(0.9, 90)) is None
