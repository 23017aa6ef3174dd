"""Many predictions at once: what every one of them reads, read once every few seconds.

Measured (BENCHMARKS.md): per prediction, the failure guard's two visibility counts and the
template lists (every version parsed) cost more than the start itself. A `TriggerCache`
held for a bulk run answers them from memory for `ttl`: one pair of counts per template per
window, one read of the template lists. The single-shot CLI keeps exact checks (no cache).

What a cache may miss for up to `ttl`: a template saved or switched off meanwhile, and a
suspension recorded by another process (this one records its own at once). Cooldowns,
quotas, `max_active_per_family` and the upgrade policy are still checked per prediction.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from temporalio.client import Client

from contracts import SequenceParams
from starter import failures, triggers
from store import Store

DEFAULT_TTL_SECONDS = 5.0
DEFAULT_CONCURRENCY = 100

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
        """`failures.guard_start` for `template`; a pass holds for `ttl`, a refusal never."""
        await self._cached(
            ("guard", template), lambda: failures.guard_start(self.client, self.store, template)
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
        try:
            return await asyncio.shield(future)
        except BaseException:
            # A failed read (or a refusal) is not remembered: the next caller asks again.
            if future.done() and self._entries.get(key) is entry:
                del self._entries[key]
            raise


@dataclass(frozen=True)
class PredictionInput:
    """One prediction of a batch, as `triggers.predict` takes it."""

    family_id: str
    probability: float
    confidence: float
    window_days: int | None = None
    model_version: str = "unknown"


async def predict_many(
    client: Client,
    store: Store,
    predictions: Iterable[PredictionInput],
    *,
    task_queue: str,
    concurrency: int = DEFAULT_CONCURRENCY,
    cache: TriggerCache | None = None,
) -> list[triggers.TriggerOutcome | triggers.TriggerError]:
    """`triggers.predict` for each prediction, `concurrency` at a time, through one cache.

    Results come back in the order given; a refused prediction gives its `TriggerError`.
    Predictions for the same family run one after another, in the order given, so the
    cooldown, "already running" and upgrade answers are those of a one-by-one run.
    """
    rows = list(predictions)
    cache = cache or TriggerCache(client, store)
    results: list[triggers.TriggerOutcome | triggers.TriggerError | None] = [None] * len(rows)
    by_family: dict[str, list[int]] = {}
    for index, row in enumerate(rows):
        by_family.setdefault(row.family_id, []).append(index)
    gate = asyncio.Semaphore(concurrency)

    async def family_in_order(indexes: Sequence[int]) -> None:
        for index in indexes:
            row = rows[index]
            async with gate:
                try:
                    results[index] = await triggers.predict(
                        client,
                        store,
                        row.family_id,
                        row.probability,
                        row.confidence,
                        task_queue=task_queue,
                        window_days=row.window_days,
                        model_version=row.model_version,
                        cache=cache,
                    )
                except triggers.TriggerError as err:
                    results[index] = err

    await asyncio.gather(*(family_in_order(indexes) for indexes in by_family.values()))
    return [result for result in results if result is not None]
