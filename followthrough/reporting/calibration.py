"""`followthrough calibration`: do the model's probabilities come true as often as they say?

Only untreated families count, so no sequence bends the result: predictions below every
template's threshold, and families held out. Each prediction's window (`reporting.windows`)
says whether the predicted event happened: the outcome named by `event`, else any outcome no
template counts as success (a withdrawal, a missed payment). Predictions are grouped by tenth
of probability (0.0-0.1, ..., 0.9-1.0): per group the families, the mean predicted probability,
the observed rate with its 95% interval, and per model version the Brier score. Each family
counts once per model version, with its latest prediction whose window has an answer.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from followthrough.reporting.proportions import rate_interval
from followthrough.reporting.windows import Window, event_seen
from store import Store
from store.outcomes import UntreatedPrediction

BINS = 10


@dataclass
class Bin:
    """The predictions whose probability falls in [low, high)."""

    low: float
    families: int = 0
    events: int = 0
    predicted_sum: float = 0.0

    @property
    def high(self) -> float:
        return round(self.low + 1 / BINS, 10)

    @property
    def mean_predicted(self) -> float | None:
        return self.predicted_sum / self.families if self.families else None

    @property
    def observed(self) -> float | None:
        return self.events / self.families if self.families else None

    def interval(self) -> tuple[float, float] | None:
        return rate_interval(self.events, self.families) if self.families else None

    def as_dict(self) -> dict[str, Any]:
        interval = self.interval()
        return {
            "low": self.low,
            "high": self.high,
            "families": self.families,
            "events": self.events,
            "mean_predicted": self.mean_predicted,
            "observed_rate": self.observed,
            "ci_low": None if interval is None else interval[0],
            "ci_high": None if interval is None else interval[1],
        }


@dataclass
class ModelCalibration:
    """One model version's calibration table and Brier score."""

    model_version: str
    bins: list[Bin] = field(default_factory=lambda: [Bin(i / BINS) for i in range(BINS)])
    squared_error: float = 0.0
    pending: int = 0

    @property
    def families(self) -> int:
        return sum(b.families for b in self.bins)

    @property
    def brier(self) -> float | None:
        return self.squared_error / self.families if self.families else None

    def add(self, probability: float, happened: bool) -> None:
        place = self.bins[min(math.floor(probability * BINS), BINS - 1)]
        place.families += 1
        place.events += happened
        place.predicted_sum += probability
        self.squared_error += (probability - happened) ** 2

    def as_dict(self) -> dict[str, Any]:
        return {
            "model_version": self.model_version,
            "families": self.families,
            "brier": self.brier,
            "pending": self.pending,
            "bins": [b.as_dict() for b in self.bins],
        }

    def lines(self) -> list[str]:
        brier = "-" if self.brier is None else f"{self.brier:.4f}"
        out = [
            f"model {self.model_version}: {self.families:,} untreated families, "
            f"Brier score {brier}"
            + (f" ({self.pending:,} still inside their window)" if self.pending else ""),
            f"  {'predicted':<10} {'families':>8} {'events':>7} {'mean p':>7} "
            f"{'observed':>9} {'95% CI':>15}",
        ]
        for b in self.bins:
            if not b.families:
                continue
            low, high = b.interval() or (0.0, 0.0)
            flag = (
                "" if low <= (b.mean_predicted or 0) <= high else "  <- mean p outside the interval"
            )
            out.append(
                f"  {b.low:.1f}-{b.high:.1f}    {b.families:>8,} {b.events:>7,} "
                f"{b.mean_predicted or 0:>7.3f} {b.observed or 0:>9.1%} "
                f"{f'{low:.1%}-{high:.1%}':>15}{flag}"
            )
        return out


async def calibration(
    store: Store,
    *,
    model_version: str | None = None,
    event: str | None = None,
    now: datetime | None = None,
) -> list[ModelCalibration]:
    """The calibration of each model version (or the one asked), by name."""
    now = now or datetime.now(UTC)
    predictions = await store.outcomes.untreated_predictions(model_version)
    outcomes = await store.outcomes.of_families(p.family_id for p in predictions)
    successes = {p.success_outcome for p in await store.templates.list_latest()}
    not_event = {name for name in successes if name is not None}
    latest: dict[tuple[str, str], tuple[UntreatedPrediction, bool]] = {}
    models: dict[str, ModelCalibration] = {}
    for prediction in predictions:  # oldest first: the latest answered one stays
        model = models.setdefault(
            prediction.model_version, ModelCalibration(prediction.model_version)
        )
        window = Window.of(prediction.family_id, prediction.created_at, prediction.window_days)
        seen = event_seen(
            window,
            outcomes.get(prediction.family_id, []),
            is_event=None if event is None else {event},
            not_event=not_event,
            now=now,
        )
        if seen is None:
            model.pending += 1
            continue
        latest[(prediction.model_version, prediction.family_id)] = (prediction, seen)
    for (version, _), (prediction, seen) in latest.items():
        models[version].add(prediction.probability, seen)
    return [models[name] for name in sorted(models)]


def as_csv(models: list[ModelCalibration]) -> str:
    """One row per model version and tenth of probability."""
    buffer = io.StringIO()
    columns = ["low", "high", "families", "events", "mean_predicted", "observed_rate"]
    columns += ["ci_low", "ci_high"]
    writer = csv.DictWriter(buffer, ["model_version", *columns, "brier"], lineterminator="\n")
    writer.writeheader()
    for model in models:
        for b in model.bins:
            writer.writerow(
                {"model_version": model.model_version, **b.as_dict(), "brier": model.brier}
            )
    return buffer.getvalue()
