"""Pacing across sequences: when a family may next be contacted on a capped channel."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from temporalio import activity

from contracts.caps import FrequencyCap
from contracts.consent import SlotRequest, SlotResult
from store import Store


def cap_window(now: datetime, timezone: str, cap: FrequencyCap) -> tuple[datetime, datetime]:
    """The local calendar day (or Monday-to-Monday week) holding `now`, as UTC instants."""
    zone = ZoneInfo(timezone)
    local = now.astimezone(zone)
    first = local.date()
    if cap.per == "week":
        first -= timedelta(days=local.weekday())
    days = 7 if cap.per == "week" else 1
    # Built from local dates, not by adding hours, so a 23- or 25-hour day is still one day.
    start = datetime.combine(first, time(0), tzinfo=zone)
    end = datetime.combine(first + timedelta(days=days), time(0), tzinfo=zone)
    return start.astimezone(UTC), end.astimezone(UTC)


class ConsentActivities:
    """Reads of the outbox that decide pacing; no side effects, so safe to run locally."""

    def __init__(self, store: Store) -> None:
        self._store = store

    @activity.defn
    async def next_send_slot(self, request: SlotRequest) -> SlotResult:
        """None when the cap leaves room at `now`, else the start of the next window.

        Counts every message any sequence sent (or is sending) on the channel in the current
        window. Two sequences checking at the same instant can both pass here; the send
        itself is the lock (`MessageRepository.claim` counts and records under the family's
        row lock), and refuses the one that comes second with the next slot.
        """
        start, end = cap_window(request.now, request.timezone, request.cap)
        sent = await self._store.messages.count_between(
            request.family_id, request.channel.value, start, end
        )
        return SlotResult(at=end if sent >= request.cap.limit else None, sent_in_window=sent)
