"""Families: contact details, time zone, opt-outs and the data conditions read."""

from __future__ import annotations

import builtins
from collections.abc import Iterable
from enum import Enum
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from contracts import Channel, FamilyContext
from contracts.channels import CHANNELS
from store.db import reading, writing
from store.models import Family
from store.unique import RACE_ATTEMPTS, Sessions


class _Unset(Enum):
    UNSET = "unset"


UNSET: Final = _Unset.UNSET
"""Default of `FamilyRepository.upsert` fields: on update, keep what is stored."""


def context_of(family: Family) -> FamilyContext:
    """What a workflow may know of the family: time zone, usable channels and opt-outs.

    A channel is usable when the family has its address and, for a channel that asks for
    one, its opt-in (both named by the registry); `missing` says why the others are not."""
    usable, missing = [], {}
    for channel, entry in CHANNELS.items():
        if not getattr(family, entry.address, None):
            missing[channel] = f"no {entry.address_label}"
        elif entry.opt_in is not None and not getattr(family, entry.opt_in, False):
            missing[channel] = f"no {entry.label} opt-in"
        else:
            usable.append(channel)
    keys = {entry.opt_out_key: channel for channel, entry in CHANNELS.items()}
    opted_out = [keys[c] for c in family.opted_out or [] if c in keys]
    preferred = family.preferred_channel
    return FamilyContext(
        family_id=family.family_id,
        timezone=family.timezone,
        channels=usable,
        opted_out=opted_out,
        preferred_channel=Channel(preferred) if preferred else None,
        missing=missing,
    )


class FamilyRepository:
    """Families and what the sequences need to know about them."""

    def __init__(self, sessions: Sessions) -> None:
        self._sessions = sessions

    async def upsert(
        self,
        family_id: str,
        name: str,
        *,
        email: str | None | _Unset = UNSET,
        phone: str | None | _Unset = UNSET,
        whatsapp: str | None | _Unset = UNSET,
        whatsapp_opt_in: bool | _Unset = UNSET,
        timezone: str | _Unset = UNSET,
        preferred_channel: str | None | _Unset = UNSET,
        opted_out: Iterable[str] | _Unset = UNSET,
        engagement_score: float | None | _Unset = UNSET,
        attributes: dict[str, Any] | None | _Unset = UNSET,
    ) -> Family:
        """Insert the family, or update it with the fields given.

        Fields not given keep their stored value on update (so re-importing contact details
        never clears an opt-out) and take the column default on insert: no email, phone or
        preferred channel, no WhatsApp number or opt-in, "America/New_York", no opt-outs, no
        score, `{}` attributes.
        """
        fields: dict[str, object] = {"email": email, "phone": phone, "whatsapp": whatsapp}
        fields |= {"whatsapp_opt_in": whatsapp_opt_in, "timezone": timezone}
        given: dict[str, Any] = {"name": name}
        given |= {field: value for field, value in fields.items() if value is not UNSET}
        if preferred_channel is not UNSET:
            given["preferred_channel"] = (
                None if preferred_channel is None else str(preferred_channel)
            )
        if opted_out is not UNSET:
            given["opted_out"] = _channels(opted_out)
        if engagement_score is not UNSET:
            given["engagement_score"] = engagement_score
        if attributes is not UNSET:
            given["attributes"] = dict(attributes or {})

        def upsert(session: Session) -> Family:
            family = session.get(Family, family_id, with_for_update=True)
            if family is None:
                family = Family(family_id=family_id, **given)
                session.add(family)
            else:
                for field, value in given.items():
                    setattr(family, field, value)
            return family

        for attempt in range(RACE_ATTEMPTS):
            try:
                return await writing(self._sessions, upsert)
            except IntegrityError:
                # Another upsert inserted the same id first; the next pass updates it.
                if attempt == RACE_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    async def get(self, family_id: str) -> Family | None:
        """The family, or None."""
        return await reading(self._sessions, lambda session: session.get(Family, family_id))

    async def contexts(self, family_ids: Iterable[str]) -> dict[str, FamilyContext]:
        """`context_of` the families with these ids, by id, in one read; unknown ids absent."""
        wanted = sorted(set(family_ids))

        def read(session: Session) -> dict[str, FamilyContext]:
            found: dict[str, FamilyContext] = {}
            for start in range(0, len(wanted), 500):
                chunk = wanted[start : start + 500]
                rows = session.scalars(select(Family).where(Family.family_id.in_(chunk)))
                found.update((row.family_id, context_of(row)) for row in rows)
            return found

        return await reading(self._sessions, read)

    async def opt_out(self, family_id: str, channel: str) -> None:
        """Record that the family must not be contacted on `channel` again."""

        def opt_out(session: Session) -> None:
            # Locked so two opt-outs arriving together do not overwrite each other's list.
            family = session.get(Family, family_id, with_for_update=True)
            if family is None:
                raise LookupError(f"no family {family_id!r}")
            if str(channel) not in family.opted_out:
                family.opted_out = [*family.opted_out, str(channel)]

        await writing(self._sessions, opt_out)

    async def list(self) -> builtins.list[Family]:
        """Every family, by id."""
        query = select(Family).order_by(Family.family_id)
        return await reading(self._sessions, lambda session: builtins.list(session.scalars(query)))

    async def page(self, after: str | None, limit: int) -> builtins.list[Family]:
        """The next `limit` families by id after `after` (from the first when None)."""
        query = select(Family).order_by(Family.family_id).limit(limit)
        if after is not None:
            query = query.where(Family.family_id > after)
        return await reading(self._sessions, lambda session: builtins.list(session.scalars(query)))


def _channels(channels: Iterable[str]) -> list[str]:
    # str() turns a Channel member into its value; dict.fromkeys drops repeats, keeps order.
    return list(dict.fromkeys(str(channel) for channel in channels))
