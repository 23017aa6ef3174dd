"""`TriggerCache`: what every prediction of a bulk run reads, read once every few seconds.

Per prediction, the failure guard's two visibility counts and the template lists (every
version parsed) would cost more than the start itself, since they are the same answer for
every prediction of the run. A cache held for a bulk run answers them from memory for
`ttl`: one pair of counts per template per window, one read of the template lists. The
single-shot CLI keeps exact checks (no cache).

What a cache may miss for up to `ttl`: a template saved or switched off meanwhile, and a
suspension recorded by another process (this one records its own at once). Cooldowns,
quotas, `max_active_per_family` and the upgrade policy are still checked per prediction.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from temporalio.client import Client

from contracts import SequenceParams
from followthrough.triggers import suspension
from store import Store

DEFAULT_TTL_SECONDS = 5.0

_T = TypeVar("_T")


class TriggerCache:
    """Template lists and failure-guard passes, shared by the predictions of one bulk run."""

    def __init__(
        self,
        client: Client,
        store: Store,
        *,
        ttl: float = DEFAULT_TTL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.store = store
        self.ttl = ttl
        self._clock = clock
        # key -> (expiry, the read in flight or done): concurrent callers share one read.
        self._entries: dict[tuple[str, str], tuple[float, asyncio.Future[Any]]] = {}

    async def list_active(self) -> list[SequenceParams]:
        """`store.templates.list_active()`, at most `ttl` old."""
        return await self._cached(("active", ""), self.store.templates.list_active)

    async def list_latest(self) -> list[SequenceParams]:
        """`store.templates.list_latest()`, at most `ttl` old."""
        return await self._cached(("latest", ""), self.store.templates.list_latest)

    async def guard_start(self, template: str) -> None:
        """`suspension.guard_start` for `template`; a pass holds for `ttl`, a refusal never."""
        await self._cached(
            ("guard", template), lambda: suspension.guard_start(self.client, self.store, template)
        )

    def clear(self) -> None:
        """Forget everything: the next call of each kind reads again."""
        self._entries.clear()

    async def _cached(self, key: tuple[str, str], read: Callable[[], Awaitable[_T]]) -> _T:
        now = self._clock()
        entry = self._entries.get(key)
        if entry is None or entry[0] <= now:
            future: asyncio.Future[Any] = asyncio.ensure_future(read())
            entry = (now + self.ttl, future)
            self._entries[key] = entry
        future = entry[1]
        if future.done() and not future.cancelled() and future.exception() is None:
            # The common case of a bulk run: answered from memory, no wait on the loop.
            result: _T = future.result()
            return result
        try:
            return await asyncio.shield(future)
        except BaseException:
            # A failed read (or a refusal) is not remembered: the next caller asks again.
            if future.done() and self._entries.get(key) is entry:
                del self._entries[key]
            raise
