"""Failure-handling state: provider circuit breakers and suspended templates.

`provider_circuits` holds one breaker state per provider, shared by every worker: failures
are counted together, so all workers open and close together, and one probe at a time
(across workers) tries a provider whose open window has passed. `provider_health` holds one
row per (provider, worker), rewritten on every transition the worker saw, so
`followthrough health` shows what every worker last saw; rows of workers gone quiet for a
day are removed (`ProviderHealthRepository.clean`). `template_suspensions` holds the
templates whose new starts are refused because too many of their sequences failed.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Text, delete, select
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


class ProviderCircuit(Base):
    """The circuit-breaker state of one provider, shared by every worker."""

    __tablename__ = "provider_circuits"

    provider: Mapped[str] = mapped_column(primary_key=True)
    state: Mapped[str]  # closed, open, half_open
    failures: Mapped[int]  # consecutive transient failures, all workers together
    open_until: Mapped[datetime | None]
    probe_until: Mapped[datetime | None]  # half_open: when the probe's claim lapses
    last_error: Mapped[str | None] = mapped_column(Text)
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

    async def clean(self, older_than: timedelta = timedelta(days=1)) -> int:
        """Remove the rows of workers that have not reported for `older_than`; how many."""
        cutoff = utcnow() - older_than
        query = delete(ProviderHealth).where(ProviderHealth.updated_at < cutoff)

        def clean(session: Session) -> int:
            return int(getattr(session.execute(query), "rowcount", 0) or 0)

        return await writing(self._sessions, clean)

    async def list(self) -> list[ProviderHealth]:
        """Every row, by provider, most recently changed first."""
        query = select(ProviderHealth).order_by(
            ProviderHealth.provider, ProviderHealth.updated_at.desc()
        )
        return await reading(self._sessions, lambda session: list(session.scalars(query)))


class CircuitRepository:
    """The shared breaker states; each change is one transaction holding the row's lock."""

    def __init__(self, sessions: Sessions) -> None:
        self._sessions = sessions

    async def get(self, provider: str) -> ProviderCircuit | None:
        return await reading(self._sessions, lambda session: session.get(ProviderCircuit, provider))

    async def failed(
        self, provider: str, error: str, *, threshold: int, open_for: timedelta
    ) -> ProviderCircuit:
        """Count a transient failure; the `threshold`-th in a row, or a failed probe, opens
        the circuit for `open_for`."""

        def fail(session: Session) -> ProviderCircuit:
            row = _locked(session, provider)
            row.failures += 1
            row.last_error = error
            if row.state == "half_open" or (row.state == "closed" and row.failures >= threshold):
                row.state, row.open_until, row.probe_until = "open", utcnow() + open_for, None
            row.updated_at = utcnow()
            return row

        return await writing(self._sessions, fail)

    async def succeeded(self, provider: str) -> ProviderCircuit:
        """The provider answered: close the circuit and forget the failures."""

        def close(session: Session) -> ProviderCircuit:
            row = _locked(session, provider)
            row.state, row.failures, row.open_until, row.probe_until = "closed", 0, None, None
            row.updated_at = utcnow()
            return row

        return await writing(self._sessions, close)

    async def claim_probe(self, provider: str, probe_for: timedelta) -> ProviderCircuit | None:
        """The probe of an open circuit whose window has passed (or whose last probe's claim
        lapsed), for one caller across workers: the row, half-open, or None when the
        circuit is not due or another caller holds the probe."""

        def claim(session: Session) -> ProviderCircuit | None:
            row = _locked(session, provider)
            now = utcnow()
            due = row.state == "open" and (row.open_until is None or row.open_until <= now)
            lapsed = row.state == "half_open" and (row.probe_until or now) <= now
            if not (due or lapsed):
                return None
            row.state, row.probe_until, row.updated_at = "half_open", now + probe_for, now
            return row

        return await writing(self._sessions, claim)


def _locked(session: Session, provider: str) -> ProviderCircuit:
    row = session.get(ProviderCircuit, provider, with_for_update=True)
    if row is None:
        row = ProviderCircuit(provider=provider, state="closed", failures=0, updated_at=utcnow())
        session.add(row)
        session.flush()
    return row


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
