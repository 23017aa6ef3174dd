"""Failure-handling state: provider circuit breakers and suspended templates.

`provider_health` holds one row per (provider, worker): each worker process has its own
breakers, and the row is rewritten on every transition, so `followthrough health` shows what
every worker last saw. `template_suspensions` holds the templates whose new starts are
refused because too many of their sequences failed.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from store.db import reading, writing
from store.models import Base, utcnow
from store.unique import Sessions


class ProviderHealth(Base):
    """The last known breaker state of a provider, as one worker saw it."""

    __tablename__ = "provider_health"

    provider: Mapped[str] = mapped_column(primary_key=True)
    worker: Mapped[str] = mapped_column(primary_key=True)
    state: Mapped[str]
    consecutive_failures: Mapped[int]
    open_until: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    transitions: Mapped[int]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class TemplateSuspension(Base):
    """A template whose new starts are refused until a person resumes it."""

    __tablename__ = "template_suspensions"

    name: Mapped[str] = mapped_column(primary_key=True)
    suspended: Mapped[bool]
    reason: Mapped[str] = mapped_column(Text)
    suspended_at: Mapped[datetime]
    resumed_at: Mapped[datetime | None]
    resumed_by: Mapped[str | None]


class ProviderHealthRepository:
    """Breaker states written by workers, read by `followthrough health`."""

    def __init__(self, sessions: Sessions) -> None:
        self._sessions = sessions

    async def record(
        self,
        *,
        provider: str,
        worker: str,
        state: str,
        consecutive_failures: int,
        open_until: datetime | None,
        last_error: str | None,
        transitions: int,
    ) -> None:
        """Upsert the row of (provider, worker) with the breaker's new state."""

        def upsert(session: Session) -> None:
            row = session.get(ProviderHealth, (provider, worker))
            if row is None:
                row = ProviderHealth(provider=provider, worker=worker)
                session.add(row)
            row.state = state
            row.consecutive_failures = consecutive_failures
            row.open_until = open_until
            row.last_error = last_error
            row.transitions = transitions
            row.updated_at = utcnow()

        await writing(self._sessions, upsert)

    async def list(self) -> list[ProviderHealth]:
        """Every row, by provider, most recently changed first."""
        query = select(ProviderHealth).order_by(
            ProviderHealth.provider, ProviderHealth.updated_at.desc()
        )
        return await reading(self._sessions, lambda session: list(session.scalars(query)))


class SuspensionRepository:
    """Suspended templates: written by the trigger's guard, cleared by a person."""

    def __init__(self, sessions: Sessions) -> None:
        self._sessions = sessions

    async def get(self, name: str) -> TemplateSuspension | None:
        return await reading(self._sessions, lambda session: session.get(TemplateSuspension, name))

    async def suspend(self, name: str, reason: str) -> TemplateSuspension:
        """Suspend `name`; an already suspended template keeps its first reason and time."""

        def suspend(session: Session) -> TemplateSuspension:
            row = session.get(TemplateSuspension, name)
            if row is None:
                row = TemplateSuspension(name=name)
                session.add(row)
            elif row.suspended:
                return row
            row.suspended = True
            row.reason = reason
            row.suspended_at = utcnow()
            return row

        return await writing(self._sessions, suspend)

    async def resume(self, name: str, by: str) -> TemplateSuspension | None:
        """Lift the suspension; None when `name` was not suspended."""

        def resume(session: Session) -> TemplateSuspension | None:
            row = session.get(TemplateSuspension, name)
            if row is None or not row.suspended:
                return None
            row.suspended = False
            row.resumed_at = utcnow()
            row.resumed_by = by
            return row

        return await writing(self._sessions, resume)

    async def list_suspended(self) -> list[TemplateSuspension]:
        query = (
            select(TemplateSuspension)
            .where(TemplateSuspension.suspended.is_(True))
            .order_by(TemplateSuspension.suspended_at)
        )
        return await reading(self._sessions, lambda session: list(session.scalars(query)))
