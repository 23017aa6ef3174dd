"""Provider pacing: one row per rate-limited channel, the earliest time of its next call.

Temporal meters a channel's sends out of its queue at the provider's rate, but as a token
bucket that holds a second's worth: after a lull (or at the start) a second can carry up to
twice the rate. The send activities smooth that out here: each provider call first takes the
channel's next slot, one `1 / rate` after the previous, under the row's lock, so the calls of
every worker together are spaced evenly.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from store.db import writing
from store.models import Base, utcnow
from store.unique import Sessions


class SendPace(Base):
    """When the next call to a channel's provider may go out, for every worker."""

    __tablename__ = "send_pace"

    channel: Mapped[str] = mapped_column(primary_key=True)
    next_at: Mapped[datetime]


class PaceRepository:
    """Slots for provider calls, one channel's at a time under its row's lock."""

    def __init__(self, sessions: Sessions) -> None:
        self._sessions = sessions

    async def take(self, channel: str, spacing: timedelta) -> datetime:
        """The time of this call's slot: now, or the slot after the last one taken; the next
        slot is `spacing` after it."""

        def take(session: Session) -> datetime:
            row = _locked(session, channel)
            slot = max(utcnow(), row.next_at)
            row.next_at = slot + spacing
            return slot

        return await writing(self._sessions, take)


def _locked(session: Session, channel: str) -> SendPace:
    """The channel's row, locked; made on its first use (once, when workers race to make it)."""
    row = session.get(SendPace, channel, with_for_update=True)
    if row is None:
        try:
            with session.begin_nested():
                session.add(SendPace(channel=channel, next_at=utcnow()))
        except IntegrityError:
            pass  # another worker made it first: use theirs
        row = session.get(SendPace, channel, with_for_update=True, populate_existing=True)
    assert row is not None
    return row
