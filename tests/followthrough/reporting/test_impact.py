"""`followthrough impact`: measured lift against a known truth (seeded populations)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from contracts import SequenceParams
from followthrough.reporting.impact import ImpactError, impact, risk_band
from followthrough.triggers.holdout import held_out
from store import Store
from store.outcomes import NewOutcome, PastPrediction

NOW = datetime.now(UTC)
DECIDED = NOW - timedelta(days=60)


async def _template(store: Store, name: str = "measured", **changes: object) -> SequenceParams:
    high = await store.templates.active("high_risk_intervention")
    assert high is not None
    fields: dict[str, object] = {
        "name": name,
        "holdout_percent": 20,
        "success_outcome": "retained",
        "no_outcome_means": "failure",
        **changes,
    }
    saved, _ = await store.templates.save(high.model_copy(update=fields))
    return saved


async def _population(
    store: Store,
    params: SequenceParams,
    *,
    families: int,
    treated_rate: float,
    held_rate: float,
    seed: int,
    prefix: str = "K",
    decided: datetime = DECIDED,
) -> None:
    """Families decided by the real holdout rule; each succeeds at its side's rate."""
    rng = random.Random(seed)
    ids = [f"{prefix}{n:05d}" for n in range(families)]
    past, outcomes = [], []
    for family in ids:
        out = held_out(params, family)
        probability = round(rng.uniform(0.8, 1.0), 3)
        outcome = "held_out" if out else "started"
        past.append(
            PastPrediction(
                family, probability, 90, "m", 30, decided, outcome, params.name, params.version
            )
        )
        if rng.random() < (held_rate if out else treated_rate):
            outcomes.append(NewOutcome(family, "retained", decided + timedelta(days=20)))
        elif rng.random() < 0.5:  # a failure recorded; the others fail by silence
            outcomes.append(NewOutcome(family, "withdrew", decided + timedelta(days=5)))
    await store.outcomes.add_history(ids, past)
    await store.outcomes.add_many(outcomes)


async def test_a_real_lift_is_found_and_its_interval_holds_the_truth(store: Store) -> None:
    params = await _template(store)
    await _population(store, params, families=4000, treated_rate=0.85, held_rate=0.70, seed=1)
    report = await impact(store, "measured")
    result = report.as_dict()
    assert result["treated"] + result["held_out"] == 4000
    assert 720 <= result["held_out"] <= 880  # 20% of 4,000, within 4 sd
    assert result["ci_low_pp"] < 15 < result["ci_high_pp"]
    assert result["ci_low_pp"] > 0
    assert result["verdict"] == "beyond noise"
    assert result["relative_lift"] == pytest.approx(
        result["lift_pp"] / 100 / result["success_rate_held_out"], abs=1e-3
    )
    assert set(result["versions"]) == {str(params.version)}
    assert result["versions"][str(params.version)]["lift_pp"] == result["lift_pp"]
    assert set(result["risk_bands"]) <= {"0.8-0.9", "0.9-1.0"}
    assert "beyond noise" in report.overall.sentence()
    assert f"{result['treated']:,} treated vs {result['held_out']:,} held out" in report.lines()[1]
    assert report.lines()[2].endswith(f"relative lift {result['relative_lift']:+.0%}")


async def test_no_effect_gives_an_interval_around_zero(store: Store) -> None:
    params = await _template(store)
    await _population(store, params, families=4000, treated_rate=0.70, held_rate=0.70, seed=2)
    result = (await impact(store, "measured")).as_dict()
    assert result["ci_low_pp"] < 0 < result["ci_high_pp"]
    assert result["verdict"] in ("within noise", "too few families")


async def test_too_few_families_says_how_many_are_needed(store: Store) -> None:
    params = await _template(store)
    await _population(store, params, families=60, treated_rate=0.8, held_rate=0.7, seed=3)
    report = await impact(store, "measured", effect_pp=10)
    result = report.as_dict()
    assert result["verdict"] == "too few families"
    needed = result["needed"]
    assert needed["effect_pp"] == 10 and needed["treated"] == pytest.approx(
        4 * needed["held_out"], rel=0.01
    )
    assert needed["held_out"] > result["held_out"]
    assert "too few families to tell: a 10 pp lift needs about" in report.overall.sentence()


async def test_versions_without_a_holdout_and_open_windows_are_left_out(store: Store) -> None:
    v1 = await _template(store, holdout_percent=0, success_outcome=None)
    v2 = await _template(store, description="with a holdout")
    await _population(store, v1, families=50, treated_rate=0.9, held_rate=0.9, seed=4, prefix="A")
    await _population(store, v2, families=200, treated_rate=0.9, held_rate=0.6, seed=5, prefix="B")
    recent = NOW - timedelta(days=2)  # windows still open: pending unless an outcome is in
    await store.outcomes.add_history(
        ["C1", "C2"],
        [
            PastPrediction("C1", 0.9, 90, "m", 30, recent, "started", "measured", v2.version),
            PastPrediction("C2", 0.9, 90, "m", 30, recent, "started", "measured", v2.version),
        ],
    )
    await store.outcomes.add_many([NewOutcome("C1", "retained", recent + timedelta(hours=1))])
    report = await impact(store, "measured")
    assert report.without_holdout == 50
    assert report.pending == 1  # C2; C1 has its outcome already
    assert report.overall.tally.treated + report.overall.tally.held_out == 201
    assert list(report.versions) == [v2.version]
    assert any("still inside their window" in line for line in report.lines())
    with pytest.raises(ImpactError, match=f"version: measured v{v1.version} had no holdout"):
        await impact(store, "measured", version=v1.version)
    only = await impact(store, "measured", since=NOW - timedelta(days=10))
    assert only.overall.tally.treated == 1


async def test_a_template_without_a_holdout_or_unknown_is_one_clear_line(store: Store) -> None:
    with pytest.raises(ImpactError, match="template: no template named 'nothing'"):
        await impact(store, "nothing")
    with pytest.raises(ImpactError, match="has never had a holdout"):
        await impact(store, "high_risk_intervention")


def test_risk_bands_are_tenths_of_probability() -> None:
    assert [risk_band(p) for p in (0.05, 0.8, 0.899, 1.0, None)] == [
        "0.0-0.1",
        "0.8-0.9",
        "0.8-0.9",
        "0.9-1.0",
        "no prediction",
    ]
