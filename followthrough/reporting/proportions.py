"""Statistics on rates, from statsmodels: two rates compared, one rate's interval, and the
sample a comparison needs.

Every report that says "beyond noise" (impact, version comparisons) or draws an interval
(calibration) takes it from here, so they all use the same tests at the same confidence.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import (
    confint_proportions_2indep,
    proportion_confint,
    proportion_effectsize,
    proportions_ztest,
    test_proportions_2indep,
)

CONFIDENCE = 0.95
ALPHA = 1 - CONFIDENCE
POWER = 0.8


@dataclass(frozen=True)
class Difference:
    """Rate b minus rate a, with its interval and the two-sided p-value of "no difference".

    The interval and the test are the score (Miettinen-Nurminen) pair, so "the interval
    excludes 0" and "p < 0.05" agree; where the score interval has no root (a side at 0% or
    100% in a small sample) the interval is Newcombe's.
    """

    diff: float
    low: float
    high: float
    p_value: float

    @property
    def beyond_noise(self) -> bool:
        return self.low > 0 or self.high < 0


def difference(hits_a: int, n_a: int, hits_b: int, n_b: int) -> Difference | None:
    """b's rate minus a's; None when a side has no one in it."""
    if n_a == 0 or n_b == 0:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # 0% or 100% on a side
        try:
            low, high = confint_proportions_2indep(
                hits_b, n_b, hits_a, n_a, method="score", compare="diff", alpha=ALPHA
            )
        except ValueError:
            low, high = confint_proportions_2indep(
                hits_b, n_b, hits_a, n_a, method="newcomb", compare="diff", alpha=ALPHA
            )
        test = test_proportions_2indep(hits_b, n_b, hits_a, n_a, method="score", compare="diff")
    p_value = float(test.pvalue)
    return Difference(
        diff=hits_b / n_b - hits_a / n_a,
        low=float(low),
        high=float(high),
        p_value=1.0 if math.isnan(p_value) else p_value,
    )


def pooled_z(hits_a: int, n_a: int, hits_b: int, n_b: int) -> tuple[float, float] | None:
    """The pooled two-proportion z-test of b against a: (z, two-sided p); None when a side
    is empty or nothing varies."""
    if n_a == 0 or n_b == 0:
        return None
    pooled = (hits_a + hits_b) / (n_a + n_b)
    if pooled in (0.0, 1.0):
        return None
    z, p_value = proportions_ztest([hits_b, hits_a], [n_b, n_a])
    return float(z), float(p_value)


def rate_interval(hits: int, n: int) -> tuple[float, float]:
    """The Wilson interval of one rate."""
    low, high = proportion_confint(hits, n, alpha=ALPHA, method="wilson")
    return float(low), float(high)


def needed_sample(baseline: float, effect: float, ratio: float) -> tuple[int, int]:
    """How many families each side needs (a, then b = ratio x a) to see a rise of `effect`
    over `baseline` at 95% confidence and 80% power."""
    baseline = min(max(baseline, 0.01), 0.99 - effect)
    size = abs(float(proportion_effectsize(baseline + effect, baseline)))
    n_a = float(
        NormalIndPower().solve_power(effect_size=size, alpha=ALPHA, power=POWER, ratio=ratio)
    )
    return math.ceil(n_a), math.ceil(n_a * ratio)
