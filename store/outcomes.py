"""Outcomes: what happened to each family (`retained`, `withdrew`, `paid`, ...), and when.

One row per family, outcome and time: the unique constraint makes a second import of the same
file add nothing. Impact and calibration reports read them against the decisions
(`sequence_starts`: a sequence started, or the family held out) and the predictions behind
those decisions.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import UniqueConstraint, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, Session, mapped_column

from contracts import workflow_id_for
from store.db import reading, writing
from store.models import Base, Family, Prediction, utcnow
from store.starts import SequenceStart
from store.unique import Sessions

# Values per IN (...) list: well under SQLite's and asyncpg's bound-parameter limits.
_IN_CHUNK = 1000
# Rows per multi-row INSERT (5 values each).
_INSERT_CHUNK = 2000


class FamilyOutcome(Base):
    """Something that happened to a family, as the organisation recorded it."""

    __tablename__ = "family_outcomes"
    __table_args__ = (UniqueConstraint("family_id", "outcome", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    family_id: Mapped[str]
    outcome: Mapped[str]
    at: Mapped[datetime]
    source: Mapped[str]  # "import" or "record"
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)


@dataclass(frozen=True)
class NewOutcome:
    """An outcome to record with `OutcomeRepository.add_many`."""

    family_id: str
    outcome: str
    at: datetime
    source: str = "record"


@dataclass(frozen=True)
class Decision:
    """A start or a holdout decision of a template for a family, with its prediction (if any)."""

    family_id: str
    template: str
    version: int | None
    held_out: bool
    decided_at: datetime
    prediction_id: int | None
    probability: float | None
    window_days: int | None


@dataclass(frozen=True)
class UntreatedPrediction:
    """A prediction after which no sequence ran: below every threshold, or held out."""

    prediction_id: int
    family_id: str
    probability: float
    model_version: str
    window_days: int | None
    created_at: datetime


@dataclass(frozen=True)
class PastPrediction:
    """A prediction made in the past, with what the start pipeline decided then: `started`
    or `held_out` (then `template` and `version` say which) or `below_threshold`."""

    family_id: str
    probability: float
    confidence: float
    model_version: str
    window_days: int | None
    created_at: datetime
    outcome: str
    template: str | None = None
    version: int | None = None


def _insert(session: Session) -> Any:
    """The dialect's INSERT, which knows ON CONFLICT DO NOTHING."""
    dialect = session.get_bind().dialect.name
    return (postgresql if dialect == "postgresql" else sqlite).insert(FamilyOutcome)


class OutcomeRepository:
    """Outcomes recorded for families; read by the impact and calibration reports."""

    def __init__(self, sessions: Sessions) -> None:
        self._sessions = sessions

    async def add_many(self, outcomes: Sequence[NewOutcome]) -> int:
        """Record the outcomes in one transaction; how many were new (the same family,
        outcome and time recorded before count as known, not again)."""
        if not outcomes:
            return 0
        rows = [
            {
                "family_id": o.family_id,
                "outcome": o.outcome,
                "at": o.at,
                "source": o.source,
                "recorded_at": utcnow(),
            }
            for o in outcomes
        ]

        def store(session: Session) -> int:
            added = 0
            for first in range(0, len(rows), _INSERT_CHUNK):
                query = (
                    _insert(session)
                    .on_conflict_do_nothing(index_elements=["family_id", "outcome", "at"])
                    .returning(FamilyOutcome.id)
                )
                added += len(session.execute(query, rows[first : first + _INSERT_CHUNK]).all())
            return added

        return await writing(self._sessions, store)

    async def of_families(self, family_ids: Iterable[str]) -> dict[str, list[tuple[str, datetime]]]:
        """Each family's outcomes, (outcome, at) oldest first; families without any left out."""
        families = list(dict.fromkeys(family_ids))

        def read(session: Session) -> dict[str, list[tuple[str, datetime]]]:
            found: dict[str, list[tuple[str, datetime]]] = defaultdict(list)
            for first in range(0, len(families), _IN_CHUNK):
                rows = session.execute(
                    select(FamilyOutcome.family_id, FamilyOutcome.outcome, FamilyOutcome.at)
                    .where(FamilyOutcome.family_id.in_(families[first : first + _IN_CHUNK]))
                    .order_by(FamilyOutcome.at, FamilyOutcome.id)
                )
                for family_id, outcome, at in rows:
                    found[family_id].append((outcome, at))
            return dict(found)

        return await reading(self._sessions, read)

    async def decisions(
        self,
        *,
        template: str | None = None,
        family_id: str | None = None,
        since: datetime | None = None,
        families: Iterable[str] | None = None,
    ) -> list[Decision]:
        """The starts and holdout decisions (of a template, of a family or of these
        families), oldest first."""
        query = (
            select(
                SequenceStart.family_id,
                SequenceStart.template,
                SequenceStart.version,
                SequenceStart.held_out,
                SequenceStart.started_at,
                SequenceStart.prediction_id,
                Prediction.probability,
                Prediction.window_days,
            )
            .outerjoin(Prediction, Prediction.id == SequenceStart.prediction_id)
            .order_by(SequenceStart.started_at, SequenceStart.id)
        )
        if template is not None:
            query = query.where(SequenceStart.template == template)
        if family_id is not None:
            query = query.where(SequenceStart.family_id == family_id)
        if since is not None:
            query = query.where(SequenceStart.started_at >= since)
        if families is None:
            return await reading(
                self._sessions,
                lambda session: [Decision(*row) for row in session.execute(query)],
            )
        wanted = list(dict.fromkeys(families))

        def read(session: Session) -> list[Decision]:
            found: list[Decision] = []
            for first in range(0, len(wanted), _IN_CHUNK):
                chunk = query.where(SequenceStart.family_id.in_(wanted[first : first + _IN_CHUNK]))
                found += [Decision(*row) for row in session.execute(chunk)]
            return sorted(found, key=lambda d: d.decided_at)

        return await reading(self._sessions, read)

    async def held_out_counts(self) -> dict[str, int]:
        """How many families each template version held out, as {"name vN": count}."""
        query = (
            select(SequenceStart.template, SequenceStart.version, func.count())
            .where(SequenceStart.held_out.is_(True))
            .group_by(SequenceStart.template, SequenceStart.version)
            .order_by(SequenceStart.template, SequenceStart.version)
        )
        return await reading(
            self._sessions,
            lambda session: {f"{t} v{v}": n for t, v, n in session.execute(query)},
        )

    async def untreated_predictions(
        self, model_version: str | None = None
    ) -> list[UntreatedPrediction]:
        """Predictions after which no sequence ran (below threshold, or held out), oldest
        first; of one model version when given."""
        query = (
            select(
                Prediction.id,
                Prediction.family_id,
                Prediction.probability,
                Prediction.model_version,
                Prediction.window_days,
                Prediction.created_at,
            )
            .where(Prediction.outcome.in_(("below_threshold", "held_out")))
            .order_by(Prediction.created_at, Prediction.id)
        )
        if model_version is not None:
            query = query.where(Prediction.model_version == model_version)
        return await reading(
            self._sessions,
            lambda session: [UntreatedPrediction(*row) for row in session.execute(query)],
        )

    async def add_history(self, families: Sequence[str], past: Sequence[PastPrediction]) -> int:
        """Write a population's history in one transaction: the families (by id, with a
        placeholder name and address; those known keep theirs), the predictions with their
        decisions, and a `sequence_starts` row for each start or holdout. How many
        predictions were written; none when the first family already has a prediction (the
        history was written before)."""

        def write(session: Session) -> int:
            if families and session.scalar(
                select(Prediction.id).where(Prediction.family_id == families[0]).limit(1)
            ):
                return 0
            known = set(session.scalars(select(Family.family_id)))
            session.add_all(
                Family(family_id=f, name=f"Family {f}", email=f"{f.lower()}@example.org")
                for f in families
                if f not in known
            )
            session.flush()
            rows = [
                Prediction(
                    family_id=p.family_id,
                    probability=p.probability,
                    confidence=p.confidence,
                    model_version=p.model_version,
                    window_days=p.window_days,
                    created_at=p.created_at,
                    template=p.template,
                    outcome=p.outcome,
                    workflow_id=None
                    if p.template is None or p.outcome != "started"
                    else workflow_id_for(p.template, p.family_id),
                )
                for p in past
            ]
            session.add_all(rows)
            session.flush()
            session.add_all(
                SequenceStart(
                    family_id=p.family_id,
                    template=p.template,
                    version=p.version,
                    workflow_id=workflow_id_for(p.template, p.family_id),
                    triggered_by="prediction",
                    started_at=p.created_at,
                    held_out=p.outcome == "held_out",
                    prediction_id=row.id,
                )
                for p, row in zip(past, rows, strict=True)
                if p.template is not None and p.outcome in ("started", "held_out")
            )
            return len(rows)

        return await writing(self._sessions, write)
