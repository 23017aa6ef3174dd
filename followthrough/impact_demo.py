"""The impact demo: a seeded population whose sequences worked, and a model half calibrated.

`population(seed)` makes the same history on every machine: 4,000 families, one prediction
each (August 2026 from model `churn-2026.08`, which is calibrated; September from
`churn-2026.09`, which over-predicts), and what the start pipeline's own rules decide for
each: `retention_outreach`'s threshold (0.80 / 80), its version (v2 rolled out to half of
the families in September, by `governance.bucket`) and its 20% holdout (`holdout.held_out`).
Then what happened: a family withdraws within its 30-day window with the probability the
truth gives, less 15% for the families v1 reached and 25% for those v2 reached; some of
the others are recorded as `retained` at the end of their window; a few withdraw after it.

`load` writes the templates and the history to the store without running any sequence (it
is the past); the outcomes go to a CSV file that `followthrough outcomes import` reads.
"""

from __future__ import annotations

import csv
import io
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from contracts import SequenceParams
from followthrough.templates import read_template
from followthrough.triggers.governance import bucket
from followthrough.triggers.holdout import held_out
from store import Store
from store.outcomes import PastPrediction

DEMO_DIR = Path(__file__).resolve().parent.parent / "demo" / "impact"
TEMPLATE = "retention_outreach"
SEED = 20
FAMILIES = 4000
WINDOW_DAYS = 30
START = datetime(2026, 8, 3, 9, 0, tzinfo=UTC)
ROLLOUT_FROM = datetime(2026, 9, 1, tzinfo=UTC)  # v2 takes 50% of the starts from here
# Relative drop in the chance of withdrawing, for the families each version reached.
EFFECT = {1: 0.15, 2: 0.25}


@dataclass(frozen=True)
class Population:
    """The families, their predictions with the decisions, and their outcomes."""

    families: list[str]
    predictions: list[PastPrediction]
    outcomes: list[tuple[str, str, datetime]]

    def outcomes_csv(self) -> str:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(["family_id", "outcome", "at"])
        for family_id, outcome, at in self.outcomes:
            writer.writerow([family_id, outcome, at.strftime("%Y-%m-%dT%H:%M:%SZ")])
        return buffer.getvalue()


def templates() -> list[SequenceParams]:
    """The demo template's two versions, in order."""
    return [
        read_template(DEMO_DIR / "retention_outreach.yaml"),
        read_template(DEMO_DIR / "retention_outreach_v2.yaml"),
    ]


def truth(model_version: str, probability: float) -> float:
    """The real chance of withdrawing behind a prediction: the August model's is its
    prediction; the September model's high predictions come true far less often."""
    return probability if model_version == "churn-2026.08" else 0.12 + 0.55 * probability


def population(seed: int = SEED, families: int = FAMILIES) -> Population:
    """The demo's history (see the module); the same for the same seed."""
    rng = random.Random(seed)
    versions = {
        p.version: p
        for p in (p.model_copy(update={"version": i + 1}) for i, p in enumerate(templates()))
    }
    ids = [f"D{n:05d}" for n in range(1, families + 1)]
    predictions: list[PastPrediction] = []
    outcomes: list[tuple[str, str, datetime]] = []
    for family_id in ids:
        made = START + timedelta(days=rng.uniform(0, 56))
        model = "churn-2026.08" if made < ROLLOUT_FROM else "churn-2026.09"
        if rng.random() < 0.5:
            probability, confidence = rng.uniform(0.8, 0.99), rng.uniform(70, 99)
        else:
            probability, confidence = rng.uniform(0.01, 0.8), rng.uniform(40, 99)
        probability, confidence = round(probability, 3), round(confidence, 1)
        past = _decide(family_id, probability, confidence, model, made, versions)
        predictions.append(past)
        chance = truth(model, probability)
        if past.outcome == "started" and past.version is not None:
            chance *= 1 - EFFECT[past.version]
        outcomes += _outcomes(rng, family_id, made, chance)
    return Population(ids, predictions, outcomes)


def _decide(
    family_id: str,
    probability: float,
    confidence: float,
    model: str,
    made: datetime,
    versions: dict[int, SequenceParams],
) -> PastPrediction:
    """What the start pipeline's rules decide for this prediction."""
    base = PastPrediction(
        family_id, probability, confidence, model, WINDOW_DAYS, made, "below_threshold"
    )
    rule = versions[1].trigger.when
    if rule is None or not rule.matches(probability, confidence):
        return base
    version = 2 if made >= ROLLOUT_FROM and bucket(family_id, TEMPLATE) < 50 else 1
    outcome = "held_out" if held_out(versions[version], family_id) else "started"
    return PastPrediction(
        family_id, probability, confidence, model, WINDOW_DAYS, made, outcome, TEMPLATE, version
    )


def _outcomes(
    rng: random.Random, family_id: str, made: datetime, chance: float
) -> list[tuple[str, str, datetime]]:
    if rng.random() < chance:
        return [(family_id, "withdrew", made + timedelta(days=rng.uniform(1, WINDOW_DAYS - 1)))]
    if rng.random() < 0.4:
        return [(family_id, "retained", made + timedelta(days=WINDOW_DAYS - 1))]
    if rng.random() < 0.05:  # after the window: counts for nothing here
        return [(family_id, "withdrew", made + timedelta(days=WINDOW_DAYS + 15))]
    return []


async def load(store: Store, history: Population) -> str:
    """Write the templates (the newest inactive: it is history) and the history; one line."""
    for params in templates():
        saved, _ = await store.templates.save(params)
        await store.templates.set_active(TEMPLATE, False, saved.version)
    written = await store.outcomes.add_history(history.families, history.predictions)
    if not written:
        return f"the impact demo's history is already loaded ({TEMPLATE})"
    decided = [p for p in history.predictions if p.template is not None]
    held = sum(p.outcome == "held_out" for p in decided)
    return (
        f"{len(history.families):,} families and {written:,} predictions from August and "
        f"September 2026 loaded: {TEMPLATE} started for {len(decided) - held:,}, "
        f"held out {held:,} (20%); {written - len(decided):,} below its threshold"
    )
