"""Provider pacing slots, on SQLite and PostgreSQL: every worker's calls one spacing apart."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from store import Store
from store.models import utcnow

HOUR = timedelta(hours=1)


async def test_each_slot_is_one_spacing_after_the_last(store: Store) -> None:
    before = utcnow()
    first = await store.pacing.take("email", HOUR)
    second = await store.pacing.take("email", HOUR)
    assert before <= first <= utcnow()
    assert second == first + HOUR
    assert await store.pacing.take("sms", HOUR) < second  # each channel has its own


async def test_racing_workers_take_distinct_slots_in_turn(db_url: str) -> None:
    stores = [Store.from_url(db_url) for _ in range(4)]  # separate connections and pools
    try:
        slots = await asyncio.gather(*(stores[n % 4].pacing.take("race", HOUR) for n in range(12)))
    finally:
        for other in stores:
            await other.close()
    ordered = sorted(slots)
    assert [b - a for a, b in zip(ordered, ordered[1:], strict=False)] == [HOUR] * 11
