"""Even spacing of a rate-limited channel's provider calls, across every worker.

Temporal keeps a channel's backlog in its send queue and hands the sends out at the provider's
rate (`followthrough.platform.send_queues`), but as a token bucket holding a second's worth:
right after a lull, a second may carry up to twice the rate. Each call therefore also takes
the channel's next slot in the store (`store.pacing`), one `1 / rate` after the previous one
whichever worker took it, and waits for it: at most about a second, since Temporal hands out
no more than that ahead.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import timedelta

from contracts import Channel
from store import Store
from store.models import utcnow

# How often a call whose worker was held up past its slot takes a new one before it goes.
RETAKES = 1


class Pacer:
    """Waits for each provider call's turn on the channels that have a rate."""

    def __init__(self, store: Store, rates: Mapping[Channel, float]) -> None:
        self._store = store
        self._spacing = {channel: timedelta(seconds=1 / rate) for channel, rate in rates.items()}

    async def wait_turn(self, channel: Channel) -> None:
        """Return when this call may go out; at once for a channel without a rate."""
        spacing = self._spacing.get(channel)
        if spacing is None:
            return
        for _ in range(1 + RETAKES):
            slot = await self._store.pacing.take(channel.value, spacing)
            wait = (slot - utcnow()).total_seconds()
            if wait > 0:
                await asyncio.sleep(wait)
            # A worker held up past its slot (a busy event loop) would go out close to the
            # next slot's call: past half a spacing, it takes a new slot instead, once.
            if utcnow() - slot < spacing / 2:
                return
