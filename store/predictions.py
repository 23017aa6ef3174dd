"""Predictions received from the model, and what the trigger did with each."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar, cast

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.orm import Session

from store.db import writing
from store.models import Family, Prediction, utcnow
from store.unique import Sessions

_PREDICTIONS = cast(Table, Prediction.__table__)
_SET_OUTCOME = (
    update(_PREDICTIONS)
    .where(_PREDICTIONS.c.id == bindparam("b_id"))
    .values(
        template=bindparam("b_template"),
        workflow_id=bindparam("b_workflow_id"),
        outcome=bindparam("b_outcome"),
    )
)

_V = TypeVar("_V")

# Values per IN (...) list: well under SQLite's and asyncpg's bound-parameter limits.
_IN_CHUNK = 1000


@dataclass(frozen=True)
class NewPrediction:
    """A prediction to store with `PredictionRepository.add_many`."""

    family_id: str
    probability: float
    confidence: float
    window_days: int | None = None
    model_version: str = "unknown"


@dataclass(frozen=True)
class Recorded:
    """A prediction `add_many` stored: its id and when (the `created_at` of its row)."""

    id: int
    family_id: str
    created_at: datetime


@dataclass(frozen=True)
class Outcome:
    """What the trigger did with a prediction, for `PredictionRepository.set_outcomes`."""

    prediction_id: int
    template: str | None
    workflow_id: str | None
    outcome: str


def _distinct_times(count: int) -> list[datetime]:
    """`count` times from now on, each at least a microsecond after the one before."""
    times: list[datetime] = []
    for _ in range(count):
        at = utcnow()
        if times and at <= times[-1]:
            at = times[-1] + timedelta(microseconds=1)
        times.append(at)
    return times


def _chunks(values: Sequence[_V]) -> Iterable[Sequence[_V]]:
    return (values[i : i + _IN_CHUNK] for i in range(0, len(values), _IN_CHUNK))


class PredictionRepository:
    """Predictions received, and the trigger's decision on each."""

    def __init__(self, sessions: Sessions) -> None:
        self._sessions = sessions

    async def add(
        self,
        family_id: str,
        probability: float,
        confidence: float,
        *,
        window_days: int | None = None,
        model_version: str = "unknown",
    ) -> Prediction:
        """Store a prediction; its outcome is set once the trigger has decided."""
        prediction = Prediction(
            family_id=family_id,
            probability=probability,
            confidence=confidence,
            window_days=window_days,
            model_version=model_version,
        )
        await writing(self._sessions, lambda session: session.add(prediction))
        return prediction

    async def add_many(self, predictions: Sequence[NewPrediction]) -> list[Recorded | None]:
        """Store the predictions of known families in one transaction; in the order given.

        One answer per prediction: its `Recorded` (ids increase in the order given), or None
        when no family has its `family_id` (nothing is stored for it). Outcomes are set once
        the trigger has decided, as with `add`. The rows go in as one multi-row INSERT: each
        gets its own `created_at` (a microsecond apart at least), and the ids returned are
        matched back by (family, `created_at`), not by the order the database returns them.
        """
        if not predictions:
            return []
        wanted = list(dict.fromkeys(p.family_id for p in predictions))

        def store(
            session: Session,
        ) -> tuple[set[str], list[NewPrediction], list[datetime], dict[tuple[str, datetime], int]]:
            known: set[str] = set()
            for chunk in _chunks(wanted):
                known.update(
                    session.scalars(select(Family.family_id).where(Family.family_id.in_(chunk)))
                )
            kept = [p for p in predictions if p.family_id in known]
            created = _distinct_times(len(kept))
            rows = [
                {
                    "family_id": p.family_id,
                    "probability": p.probability,
                    "confidence": p.confidence,
                    "window_days": p.window_days,
                    "model_version": p.model_version,
                    "created_at": at,
                }
                for p, at in zip(kept, created, strict=True)
            ]
            ids: dict[tuple[str, datetime], int] = {}
            if rows:
                # Not `sort_by_parameter_order`: without a sentinel column SQLAlchemy would
                # send one INSERT per row (measured 8x slower on SQLite).
                result = session.execute(
                    insert(Prediction).returning(
                        Prediction.id, Prediction.family_id, Prediction.created_at
                    ),
                    rows,
                )
                ids = {(family_id, at): row_id for row_id, family_id, at in result}
            return known, kept, created, ids

        known, kept, created, ids = await writing(self._sessions, store)
        stored = iter(zip(kept, created, strict=True))
        answers: list[Recorded | None] = []
        for prediction in predictions:
            if prediction.family_id not in known:
                answers.append(None)
                continue
            _, at = next(stored)
            answers.append(Recorded(ids[(prediction.family_id, at)], prediction.family_id, at))
        return answers

    async def set_outcome(
        self, prediction_id: int, *, template: str | None, workflow_id: str | None, outcome: str
    ) -> None:
        """Record what the trigger did: e.g. "started", "already_running", "below_threshold"."""

        def record(session: Session) -> None:
            prediction = session.get(Prediction, prediction_id)
            if prediction is None:
                raise LookupError(f"no prediction {prediction_id}")
            prediction.template = template
            prediction.workflow_id = workflow_id
            prediction.outcome = outcome

        await writing(self._sessions, record)

    async def set_outcomes(self, outcomes: Sequence[Outcome]) -> None:
        """`set_outcome` for each, in one transaction; LookupError (nothing written) when a
        prediction does not exist."""
        if not outcomes:
            return
        parameters = [
            {
                "b_id": o.prediction_id,
                "b_template": o.template,
                "b_workflow_id": o.workflow_id,
                "b_outcome": o.outcome,
            }
            for o in outcomes
        ]

        def record(session: Session) -> None:
            # One Core UPDATE executed for every row (an ORM bulk UPDATE by primary key costs
            # twice as much per row).
            result = session.execute(_SET_OUTCOME, parameters)
            # Where the driver counts the rows of an executemany (SQLite), that count says
            # whether every prediction exists; elsewhere (asyncpg) they are looked up.
            counted = session.get_bind().dialect.supports_sane_multi_rowcount
            if counted and getattr(result, "rowcount", None) == len(outcomes):
                return
            ids = [o.prediction_id for o in outcomes]
            found: set[int] = set()
            for chunk in _chunks(ids):
                found.update(session.scalars(select(Prediction.id).where(Prediction.id.in_(chunk))))
            missing = [i for i in ids if i not in found]
            if missing:
                raise LookupError(f"no prediction {missing[0]}")  # rolls the updates back

        await writing(self._sessions, record)
