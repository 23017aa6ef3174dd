"""Rollouts: a new template version taking a share of new starts before it takes them all."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, delete, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from store.db import reading, writing
from store.models import Base, utcnow
from store.unique import Sessions


class TemplateRollout(Base):
    """`version` of template `name` gets `percent` of new starts; the rest keep the stable one."""

    __tablename__ = "template_rollouts"
    __table_args__ = (CheckConstraint("percent BETWEEN 0 AND 100", name="percent"),)

    name: Mapped[str] = mapped_column(primary_key=True)
    version: Mapped[int]
    percent: Mapped[int]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class RolloutRepository:
    """At most one rollout per template; written by `templates rollout`, read by triggers."""

    def __init__(self, sessions: Sessions) -> None:
        self._sessions = sessions

    async def get(self, name: str) -> TemplateRollout | None:
        return await reading(self._sessions, lambda session: session.get(TemplateRollout, name))

    async def all(self) -> dict[str, TemplateRollout]:
        """Every rollout in progress, by template name."""
        query = select(TemplateRollout)
        return await reading(
            self._sessions, lambda session: {row.name: row for row in session.scalars(query)}
        )

    async def set(self, name: str, version: int, percent: int) -> TemplateRollout:
        """Start or change the rollout of `name`: `version` gets `percent` of new starts."""

        def store(session: Session) -> TemplateRollout:
            row = session.get(TemplateRollout, name)
            if row is None:
                row = TemplateRollout(name=name, version=version, percent=percent)
                session.add(row)
            else:
                row.version, row.percent = version, percent
            return row

        return await writing(self._sessions, store)

    async def clear(self, name: str) -> bool:
        """End the rollout of `name` (promoted or rolled back); whether there was one."""
        query = delete(TemplateRollout).where(TemplateRollout.name == name)
        return await writing(
            self._sessions,
            lambda session: bool(getattr(session.execute(query), "rowcount", 0)),
        )
