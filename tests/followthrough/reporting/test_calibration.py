"""`followthrough calibration`: a calibrated model reads as one, an over-confident one does not."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta

from followthrough.reporting.calibration import as_csv, calibration
from store import Store
from store.outcomes import NewOutcome, PastPrediction

MADE = datetime.now(UTC) - timedelta(days=60)


async def _model(store: Store, version: str, truth, *, families: int, seed: int) -> None:
    """Untreated predictions of `version`; each family withdraws with `truth(p)`."""
    rng = random.Random(seed)
    ids = [f"{version}-{n:05d}" for n in range(families)]
    past, outcomes = [], []
    for family in ids:
        p = rng.random()
        past.append(PastPrediction(family, p, 50, version, 30, MADE, "below_threshold"))
        if rng.random() < truth(p):
            outcomes.append(
                NewOutcome(family, "withdrew", MADE + timedelta(days=rng.uniform(0, 29)))
            )
        elif rng.random() < 0.3:
            outcomes.append(NewOutcome(family, "retained", MADE + timedelta(days=29)))
    await store.outcomes.add_history(ids, past)
    await store.outcomes.add_many(outcomes)


async def test_a_calibrated_model_is_observed_within_sampling_error(store: Store) -> None:
    await _model(store, "calibrated", lambda p: p, families=5000, seed=11)
    [model] = await calibration(store, event="withdrew")
    assert model.model_version == "calibrated" and model.families == 5000
    for b in model.bins:
        assert b.families > 350 and b.mean_predicted is not None and b.observed is not None
        spread = math.sqrt(b.mean_predicted * (1 - b.mean_predicted) / b.families)
        assert abs(b.observed - b.mean_predicted) < 3.3 * spread, b.as_dict()
    # The Brier score of a calibrated model on uniform p: E[p(1-p)] = 1/6.
    assert model.brier is not None and abs(model.brier - 1 / 6) < 0.01


async def test_an_overconfident_model_is_visible_at_once(store: Store) -> None:
    await _model(store, "calibrated", lambda p: p, families=2000, seed=12)
    await _model(store, "overconfident", lambda p: 0.5 * p, families=2000, seed=13)
    # The default event: any outcome no template counts as success (templates name none
    # here, so `retained` would count too): name the event instead.
    models = {m.model_version: m for m in await calibration(store, event="withdrew")}
    high = models["overconfident"].bins[8]  # predicted 0.8-0.9, true 0.40-0.45
    assert high.observed is not None and 0.3 < high.observed < 0.55
    interval = high.interval()
    assert interval is not None and interval[1] < 0.8
    assert models["overconfident"].brier > models["calibrated"].brier  # type: ignore[operator]
    assert any("outside the interval" in line for line in models["overconfident"].lines())
    [only] = await calibration(store, model_version="calibrated", event="withdrew")
    assert only.model_version == "calibrated"
    rows = as_csv(list(models.values())).splitlines()
    assert rows[0].startswith("model_version,low,high,families,events")
    assert len(rows) == 1 + 2 * 10


async def test_only_untreated_and_answered_predictions_count(store: Store) -> None:
    recent = datetime.now(UTC) - timedelta(days=3)
    await store.templates.save(
        (await store.templates.active("high_risk_intervention")).model_copy(  # type: ignore[union-attr]
            update={"name": "measured", "holdout_percent": 20, "success_outcome": "retained"}
        )
    )
    await store.outcomes.add_history(
        ["T1", "H1", "Q1", "Q2"],
        [
            PastPrediction("T1", 0.9, 90, "m", 30, MADE, "started", "measured", 1),
            PastPrediction("H1", 0.9, 90, "m", 30, MADE, "held_out", "measured", 1),
            PastPrediction("Q1", 0.2, 50, "m", 30, recent, "below_threshold"),  # open, quiet
            PastPrediction("Q2", 0.2, 50, "m", 30, recent, "below_threshold"),
        ],
    )
    await store.outcomes.add_many(
        [
            NewOutcome("T1", "withdrew", MADE + timedelta(days=1)),  # treated: left out
            NewOutcome("H1", "retained", MADE + timedelta(days=2)),  # a success: no event
            NewOutcome("Q2", "moved_away", recent + timedelta(hours=1)),  # the event, early
        ]
    )
    [model] = await calibration(store)
    assert model.families == 2 and model.pending == 1
    assert (model.bins[9].families, model.bins[9].events) == (1, 0)
    assert (model.bins[2].families, model.bins[2].events) == (1, 1)
