"""The shared statistics: two rates, one rate's interval, the sample a comparison needs."""

from __future__ import annotations

import pytest

from followthrough.reporting.proportions import (
    difference,
    needed_sample,
    pooled_z,
    rate_interval,
)


def test_a_difference_has_an_interval_around_it_and_agrees_with_its_test() -> None:
    d = difference(70, 100, 85, 100)  # 70% against 85%
    assert d is not None
    assert d.diff == pytest.approx(0.15)
    assert d.low < 0.15 < d.high
    assert d.beyond_noise and d.p_value < 0.05 and d.low > 0
    level = difference(50, 100, 50, 100)
    assert level is not None and level.low < 0 < level.high and not level.beyond_noise


@pytest.mark.parametrize(("a", "b"), [((0, 12), (30, 48)), ((12, 12), (40, 48)), ((0, 5), (0, 9))])
def test_a_side_at_zero_or_all_still_has_an_interval(a: tuple, b: tuple) -> None:
    d = difference(a[0], a[1], b[0], b[1])
    assert d is not None and -1 <= d.low <= d.diff <= d.high <= 1
    assert 0 <= d.p_value <= 1


def test_an_empty_side_has_nothing_to_compare() -> None:
    assert difference(0, 0, 3, 10) is None
    assert pooled_z(0, 0, 3, 10) is None
    assert pooled_z(0, 10, 0, 10) is None  # nothing varies


def test_the_sample_needed_is_the_textbook_one() -> None:
    # 70% -> 75% at 95% confidence and 80% power, four treated per held-out family:
    # Cohen's h = 0.1115, n = (1.96 + 0.8416)^2 (1 + 1/4) / h^2 = about 790 held out.
    held, treated = needed_sample(0.70, 0.05, 4.0)
    assert 770 <= held <= 800 and treated == pytest.approx(4 * held, abs=4)
    small, _ = needed_sample(0.70, 0.15, 4.0)
    assert small < held / 5


def test_a_rate_interval_is_wilsons() -> None:
    low, high = rate_interval(40, 100)
    assert low == pytest.approx(0.3094, abs=1e-3) and high == pytest.approx(0.4980, abs=1e-3)
