"""Many predictions at once: what every one of them reads, read once every few seconds.

Measured (BENCHMARKS.md): per prediction, the failure guard's two visibility counts and the
template lists (every version parsed) cost more than the start itself. A `TriggerCache`
held for a bulk run answers them from memory for `ttl`: one pair of counts per template per
window, one read of the template lists. The single-shot CLI keeps exact checks (no cache).

What a cache may miss for up to `ttl`: a template saved or switched off meanwhile, and a
suspension recorded by another process (this one records its own at once). Cooldowns,
quotas, `max_active_per_family` and the upgrade policy are still checked per prediction.

`predict_many` also does the store work by batches instead of per prediction (four to five
round trips each, measured to cost more than the start once the counts were cached): a
batch's families are looked up and its rows inserted in one transaction, the rollouts and
the cooldowns' last starts read once, its outcomes written in one transaction. What a batch
reads may be as old as the batch (a rollout changed meanwhile applies from the next one).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from temporalio.client import Client

from contracts import FamilyContext, PredictionRef, SequenceParams
from followthrough.triggers import start as triggers
from followthrough.triggers import suspension as failures
from store import Store
from store.predictions import STARTED, NewPrediction, Outcome, Recorded
from store.rollouts import TemplateRollout

DEFAULT_TTL_SECONDS = 5.0
DEFAULT_CONCURRENCY = 100
DEFAULT_BATCH_SIZE = 100

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


@dataclass(frozen=True)
class PredictionInput:
    """One prediction of a batch, as `triggers.predict` takes it."""

    family_id: str
    probability: float
    confidence: float
    window_days: int | None = None
    model_version: str = "unknown"


Result = triggers.TriggerOutcome | triggers.TriggerError


class _Batch:
    """Up to `batch_size` consecutive predictions of a `predict_many` run and their store work:
    stored together, their outcomes written together once every one of them is decided."""

    def __init__(self, indexes: range) -> None:
        self.indexes = indexes
        self.recorded: dict[int, Recorded] = {}  # index in the run -> its stored row
        self.rollouts: dict[str, TemplateRollout] = {}
        # Cooldown templates whose last starts were read for this batch's families, and those.
        self.cooldown_templates: frozenset[str] = frozenset()
        self.last_started: dict[tuple[str, str], datetime] = {}
        self.families: dict[str, FamilyContext] = {}  # by family id, read with the batch
        self.outcomes: list[Outcome] = []
        self.undecided = 0


class _Run:
    """One `predict_many` call: its batches, prepared one ahead of the predictions deciding,
    and the starts it made (what a cooldown counts from before their outcomes are written)."""

    def __init__(
        self,
        client: Client,
        store: Store,
        rows: list[PredictionInput],
        cache: TriggerCache,
        batch_size: int,
    ) -> None:
        self.client, self.store, self.rows, self.cache = client, store, rows, cache
        self.results: list[Result | None] = [None] * len(rows)
        self.batches = [
            _Batch(range(start, min(start + batch_size, len(rows))))
            for start in range(0, len(rows), batch_size)
        ]
        self.batch_size = batch_size
        self._prepared: list[asyncio.Task[_Batch]] = []  # batch number -> its preparation
        self.flushes: list[asyncio.Task[None]] = []
        # (family, template) -> created_at of this run's latest prediction that started it.
        self.started: dict[tuple[str, str], datetime] = {}

    def batch_of(self, index: int) -> int:
        return index // self.batch_size

    async def prepared(self, number: int) -> _Batch:
        """Batch `number`, stored; the next one is prepared meanwhile."""
        task = self._prepare(number)
        if number + 1 < len(self.batches):
            self._prepare(number + 1)
        if task.done() and not task.cancelled() and task.exception() is None:
            return task.result()
        return await asyncio.shield(task)

    def _prepare(self, number: int) -> asyncio.Task[_Batch]:
        while len(self._prepared) <= number:
            previous = self._prepared[-1] if self._prepared else None
            batch = self.batches[len(self._prepared)]
            self._prepared.append(asyncio.ensure_future(self._store(batch, previous)))
        return self._prepared[number]

    async def _store(self, batch: _Batch, previous: asyncio.Task[_Batch] | None) -> _Batch:
        if previous is not None:
            # Batches are stored in order, so prediction ids follow the order given.
            await asyncio.shield(previous)
        valid: list[int] = []
        for index in batch.indexes:
            row = self.rows[index]
            try:
                triggers.check_prediction(row.probability, row.confidence, row.window_days)
            except triggers.TriggerError as err:
                self.results[index] = err
                continue
            valid.append(index)
        stored = await self.store.predictions.add_many(
            [
                NewPrediction(
                    row.family_id,
                    row.probability,
                    row.confidence,
                    window_days=row.window_days,
                    model_version=row.model_version,
                )
                for row in (self.rows[index] for index in valid)
            ]
        )
        for index, recorded in zip(valid, stored, strict=True):
            if recorded is None:
                family_id = self.rows[index].family_id
                self.results[index] = triggers.TriggerError(
                    f"family: no family with id {family_id!r}"
                )
            else:
                batch.recorded[index] = recorded
        batch.undecided = len(batch.recorded)
        if not batch.recorded:
            return batch
        # What the starts hand their runs (so that no run reads its family again).
        batch.families = await self.store.families.contexts(
            self.rows[index].family_id for index in batch.recorded
        )
        batch.rollouts = await self.store.rollouts.all()
        batch.cooldown_templates = frozenset(
            params.name
            for params in await self.cache.list_active()
            if params.trigger.type == "prediction" and params.trigger.cooldown_days > 0
        )
        if batch.cooldown_templates:
            batch.last_started = await self.store.predictions.last_started_many(
                (recorded.family_id for recorded in batch.recorded.values()),
                batch.cooldown_templates,
            )
        return batch

    def decided(self, batch: _Batch) -> None:
        """One more of the batch decided; with the last one, its outcomes are written."""
        batch.undecided -= 1
        if batch.undecided == 0:
            self._flush(batch)

    def _flush(self, batch: _Batch) -> None:
        if batch.outcomes:
            outcomes, batch.outcomes = batch.outcomes, []
            self.flushes.append(
                asyncio.ensure_future(self.store.predictions.set_outcomes(outcomes))
            )

    async def finish(self) -> list[BaseException]:
        """Write what is left: the outcomes of batches some of whose predictions never ran
        (their family stopped at an unexpected error). The errors of these writes and of
        batch preparations nobody waited for."""
        for batch in self.batches:
            self._flush(batch)
        ended = await asyncio.gather(*self.flushes, *self._prepared, return_exceptions=True)
        return [error for error in ended if isinstance(error, BaseException)]


class _BatchRecorder:
    """`triggers.Recorder` for one prediction of a batch: its outcome joins the batch's, the
    cooldown and the rollout come from what the batch read and from this run's starts."""

    def __init__(self, run: _Run, batch: _Batch, recorded: Recorded) -> None:
        self._run, self._batch, self._recorded = run, batch, recorded

    @property
    def rollouts(self) -> dict[str, TemplateRollout]:
        return self._batch.rollouts

    async def outcome(
        self, prediction_id: int, *, template: str | None, workflow_id: str | None, outcome: str
    ) -> None:
        self._batch.outcomes.append(Outcome(prediction_id, template, workflow_id, outcome))
        if template is not None and outcome in STARTED:
            key = (self._recorded.family_id, template)
            self._run.started[key] = max(
                self._recorded.created_at, self._run.started.get(key, self._recorded.created_at)
            )

    async def last_started(self, family_id: str, template: str) -> datetime | None:
        if template in self._batch.cooldown_templates:
            stored = self._batch.last_started.get((family_id, template))
        else:  # a template that changed since the batch was read
            stored = await self._run.store.predictions.last_started(family_id, template)
        # This run's own starts: written with their batch, maybe not yet.
        mine = self._run.started.get((family_id, template))
        if stored is None or (mine is not None and mine > stored):
            return mine
        return stored


async def predict_many(
    client: Client,
    store: Store,
    predictions: Iterable[PredictionInput],
    *,
    task_queue: str,
    concurrency: int = DEFAULT_CONCURRENCY,
    cache: TriggerCache | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> list[Result]:
    """`triggers.predict` for each prediction, `concurrency` at a time, through one cache.

    Results come back in the order given; a refused prediction gives its `TriggerError`.
    Predictions for the same family run one after another, in the order given, so the
    cooldown, "already running" and upgrade answers are those of a one-by-one run.

    The store work goes by batches of `batch_size` consecutive predictions: their families
    are looked up and their rows inserted in one transaction (ids in the order given), the
    rollouts and the cooldowns' last starts read once, and their outcomes written in one
    transaction once all of them are decided. A prediction's cooldown also counts the starts
    this run made whose outcomes are not written yet, so it answers as after a one-by-one
    run. Every other check is `triggers.decide`'s, per prediction.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    rows = list(predictions)
    run = _Run(client, store, rows, cache or TriggerCache(client, store), batch_size)
    by_family: dict[str, list[int]] = {}
    for index, row in enumerate(rows):
        by_family.setdefault(row.family_id, []).append(index)
    gate = asyncio.Semaphore(concurrency)

    async def one(index: int) -> None:
        batch = await run.prepared(run.batch_of(index))
        recorded = batch.recorded.get(index)
        if recorded is None:  # refused before it was stored: its error is its result
            return
        row = rows[index]
        try:
            run.results[index] = await triggers.decide(
                client,
                store,
                row.family_id,
                PredictionRef(
                    prediction_id=recorded.id,
                    probability=row.probability,
                    confidence=row.confidence,
                    model_version=row.model_version,
                    window_days=row.window_days,
                ),
                task_queue=task_queue,
                cache=run.cache,
                record=_BatchRecorder(run, batch, recorded),
                family=batch.families.get(row.family_id),
            )
        except triggers.TriggerError as err:
            run.results[index] = err
        finally:
            run.decided(batch)

    async def family_in_order(indexes: Sequence[int]) -> None:
        for index in indexes:
            async with gate:
                await one(index)

    ended = await asyncio.gather(
        *(family_in_order(indexes) for indexes in by_family.values()), return_exceptions=True
    )
    # Every outcome decided is written before returning, also when something failed; a family
    # whose prediction failed unexpectedly stops there, as the error stops the run.
    errors = [error for error in ended if isinstance(error, BaseException)]
    errors += await run.finish()
    if errors:
        raise errors[0]
    return [result for result in run.results if result is not None]
