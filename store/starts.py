"""Sequence starts: when each template was last started for each family, whatever started it.

One row per start the trigger pipeline made (a prediction, an event, a schedule run, a person),
and one per family it held out (`held_out`: the start it would have made, which a holdout
decision replaces). Cooldowns read it: "no second start of this template for this family
within N days" is one rule for every kind of trigger, held-out families included, and it holds
after Temporal has forgotten the run. Impact reports read it as the list of decisions.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Index, func, insert, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from store.db import reading, writing
from store.models import Base, utcnow
from store.unique import Sessions

# Values per IN (...) list: well under SQLite's and asyncpg's bound-parameter limits.
_IN_CHUNK = 1000


class SequenceStart(Base):
    """A sequence a trigger started: which template (and version) for which family, and when."""

    __tablename__ = "sequence_starts"
    __table_args__ = (
        Index("ix_sequence_starts_family_id_template", "family_id", "template", "started_at"),
        Index("ix_sequence_starts_template", "template", "started_at"),
        # The dashboard's first contacts look up the latest start of their sequence.
        Index("ix_sequence_starts_workflow_id", "workflow_id", "started_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    # Not a foreign key: the start has happened, its record must not fail on a missing family.
    family_id: Mapped[str]
    template: Mapped[str]
    version: Mapped[int | None]  # None on rows carried over from predictions
    workflow_id: Mapped[str]
    triggered_by: Mapped[str]
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The family was held out: no sequence ran (`workflow_id` is the one it would have had).
    held_out: Mapped[bool] = mapped_column(default=False)
    # Not a foreign key either: event, schedule and manual starts have no prediction.
    prediction_id: Mapped[int | None]


@dataclass(frozen=True)
class NewStart:
    """A start to record with `StartRepository.add` or `add_many`."""

    family_id: str
    template: str
    version: int
    workflow_id: str
    triggered_by: str
    started_at: datetime
    held_out: bool = False
    prediction_id: int | None = None


class StartRepository:
    """Starts as the trigger pipeline made them; read by cooldowns."""

    def __init__(self, sessions: Sessions) -> None:
        self._sessions = sessions

    async def add(self, start: NewStart) -> None:
        """Record one start."""
        await self.add_many([start])

    async def add_many(self, starts: Sequence[NewStart]) -> None:
        """Record the starts in one transaction (one multi-row INSERT)."""
        if not starts:
            return
        rows = [
            {
                "family_id": s.family_id,
                "template": s.template,
                "version": s.version,
                "workflow_id": s.workflow_id,
                "triggered_by": s.triggered_by,
                "started_at": s.started_at,
                "held_out": s.held_out,
                "prediction_id": s.prediction_id,
            }
            for s in starts
        ]
        await writing(self._sessions, lambda session: session.execute(insert(SequenceStart), rows))

    async def last_started(self, family_id: str, template: str) -> datetime | None:
        """When `template` was last started for the family, or None."""
        query = select(func.max(SequenceStart.started_at)).where(
            SequenceStart.family_id == family_id, SequenceStart.template == template
        )
        return await reading(self._sessions, lambda session: session.scalar(query))

    async def last_started_many(
        self, family_ids: Iterable[str], templates: Iterable[str]
    ) -> dict[tuple[str, str], datetime]:
        """`last_started` for every (family, template) pair of these, in one read; pairs
        never started are left out."""
        families = list(dict.fromkeys(family_ids))
        names = list(dict.fromkeys(templates))
        if not families or not names:
            return {}

        def read(session: Session) -> dict[tuple[str, str], datetime]:
            found: dict[tuple[str, str], datetime] = {}
            for first in range(0, len(families), _IN_CHUNK):
                rows = session.execute(
                    select(
                        SequenceStart.family_id,
                        SequenceStart.template,
                        func.max(SequenceStart.started_at),
                    )
                    .where(
                        SequenceStart.family_id.in_(families[first : first + _IN_CHUNK]),
                        SequenceStart.template.in_(names),
                    )
                    .group_by(SequenceStart.family_id, SequenceStart.template)
                )
                found.update(((family_id, name), at) for family_id, name, at in rows)
            return found

        return await reading(self._sessions, read)
