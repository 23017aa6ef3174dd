"""Places held by running sequences: what `max_active` and `max_active_per_family` count.

A start reserves its place before it starts the workflow, in one transaction that counts the
places its family and its template hold already and adds its own only when both are under
their limits. The count and the insert are one step: on PostgreSQL under advisory locks on
the family and the template (taken in that order by every start), on SQLite because writers
take turns (`store.db` begins them IMMEDIATE). So two starters racing for the last place
cannot both take it. A place is released when its start failed, and when the sequence has
ended: the start pipeline asks Temporal about the places that hold a limit full
(`followthrough.triggers.reservations`), so a sequence that ended in any way, without
telling anyone, frees its place for the next start.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import delete, select, text
from sqlalchemy.orm import Mapped, Session, mapped_column

from store.db import reading, writing
from store.models import Base, utcnow
from store.unique import Sessions


class SequenceReservation(Base):
    """The place one running sequence holds under its template's and its family's limits."""

    __tablename__ = "sequence_reservations"

    workflow_id: Mapped[str] = mapped_column(primary_key=True)
    family_id: Mapped[str] = mapped_column(index=True)
    template: Mapped[str] = mapped_column(index=True)
    reserved_at: Mapped[datetime] = mapped_column(default=utcnow)


class Reservation(NamedTuple):
    """`reserve`'s answer: `full` is None when the place is held; else which limit is full
    (`family` or `template`), and `holders`, the workflow ids holding its places."""

    full: str | None
    holders: list[tuple[str, datetime]]  # (workflow id, reserved at)
    created: bool = False  # a new place (False: the workflow id held one already)


class ReservationRepository:
    """Reserve, release and list the places of running sequences."""

    def __init__(self, sessions: Sessions) -> None:
        self._sessions = sessions

    async def reserve(
        self,
        workflow_id: str,
        family_id: str,
        template: str,
        *,
        family_limit: int | None,
        template_limit: int | None,
        replacing: Sequence[str] = (),
    ) -> Reservation:
        """Hold a place for `workflow_id` when the family has fewer than `family_limit`
        places (`replacing`, the sequences the start cancels, not counted) and the template
        fewer than `template_limit` (None: no limit). A workflow id never counts against
        itself; holding a place already, it keeps it."""

        def reserve(session: Session) -> Reservation:
            if session.get_bind().dialect.name == "postgresql":
                for scope in (f"family:{family_id}", f"template:{template}"):
                    session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _key(scope)})
            others = SequenceReservation.workflow_id.not_in([workflow_id, *replacing])
            for full, limit, where in (
                ("family", family_limit, SequenceReservation.family_id == family_id),
                ("template", template_limit, SequenceReservation.template == template),
            ):
                if limit is None:
                    continue
                query = select(
                    SequenceReservation.workflow_id, SequenceReservation.reserved_at
                ).where(where, others)
                holders = [(w, at) for w, at in session.execute(query.limit(limit))]
                if len(holders) >= limit:
                    return Reservation(full, holders)
            row = session.get(SequenceReservation, workflow_id)
            if row is not None:
                row.family_id, row.template, row.reserved_at = family_id, template, utcnow()
                return Reservation(None, [])
            session.add(
                SequenceReservation(workflow_id=workflow_id, family_id=family_id, template=template)
            )
            return Reservation(None, [], created=True)

        return await writing(self._sessions, reserve)

    async def release(self, workflow_ids: Iterable[str]) -> None:
        """Give the places of these sequences back (they ended, or never started)."""
        ids = list(workflow_ids)
        if not ids:
            return
        query = delete(SequenceReservation).where(SequenceReservation.workflow_id.in_(ids))
        await writing(self._sessions, lambda session: session.execute(query))

    async def held(
        self, *, family_id: str | None = None, template: str | None = None
    ) -> list[SequenceReservation]:
        """The places held, of one family or one template or all, oldest first."""
        query = select(SequenceReservation).order_by(SequenceReservation.reserved_at)
        if family_id is not None:
            query = query.where(SequenceReservation.family_id == family_id)
        if template is not None:
            query = query.where(SequenceReservation.template == template)
        return await reading(self._sessions, lambda session: list(session.scalars(query)))


def _key(scope: str) -> int:
    """A stable signed 64-bit advisory-lock key for a family or a template."""
    return int.from_bytes(hashlib.sha256(scope.encode()).digest()[:8], "big", signed=True)
