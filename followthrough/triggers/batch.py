"""Many predictions at once: the store work done by batches, the shared reads cached.

Each prediction goes through `triggers.decide` and so through the start pipeline, like a
single one; what differs is where its reads come from and when its writes go out. Per
prediction, the store's round trips (four to five) would cost more than the start itself
once the shared reads are cached (`TriggerCache`): so a batch's families are looked up and
its rows inserted in one transaction, the rollouts and the cooldowns' last starts read
once, and its outcomes and starts written in one go once all of them are decided. What a
batch reads may be as old as the batch (a rollout changed meanwhile applies from the next
one).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from temporalio.client import Client

from contracts import FamilyContext, PredictionRef
from followthrough.triggers import start as triggers
from followthrough.triggers.cache import TriggerCache
from followthrough.triggers.errors import TriggerError
from followthrough.triggers.outcome import TriggerOutcome
from store import Store
from store.predictions import NewPrediction, Outcome, Recorded
from store.rollouts import TemplateRollout
from store.starts import NewStart

__all__ = ["PredictionInput", "Result", "TriggerCache", "predict_many"]

DEFAULT_CONCURRENCY = 100
DEFAULT_BATCH_SIZE = 100


@dataclass(frozen=True)
class PredictionInput:
    """One prediction of a batch, as `triggers.predict` takes it."""

    family_id: str
    probability: float
    confidence: float
    window_days: int | None = None
    model_version: str = "unknown"


Result = TriggerOutcome | TriggerError


class _Batch:
    """Up to `batch_size` consecutive predictions of a `predict_many` run and their store work:
    stored together, their outcomes and starts written together once every one is decided."""

    def __init__(self, indexes: range) -> None:
        self.indexes = indexes
        self.recorded: dict[int, Recorded] = {}  # index in the run -> its stored row
        self.rollouts: dict[str, TemplateRollout] = {}
        # Cooldown templates whose last starts were read for this batch's families, and those.
        self.cooldown_templates: frozenset[str] = frozenset()
        self.last_started: dict[tuple[str, str], datetime] = {}
        self.families: dict[str, FamilyContext] = {}  # by family id, read with the batch
        self.outcomes: list[Outcome] = []
        self.starts: list[NewStart] = []
        self.undecided = 0


class _Run:
    """One `predict_many` call: its batches, prepared one ahead of the predictions deciding,
    and the starts it made (what a cooldown counts from before they are written)."""

    def __init__(
        self,
        client: Client,
        store: Store,
        rows: list[PredictionInput],
        cache: TriggerCache,
        batch_size: int,
        task_queue: str,
    ) -> None:
        self.client, self.store, self.rows, self.cache = client, store, rows, cache
        self.task_queue = task_queue
        self.results: list[Result | None] = [None] * len(rows)
        self.batches = [
            _Batch(range(start, min(start + batch_size, len(rows))))
            for start in range(0, len(rows), batch_size)
        ]
        self.batch_size = batch_size
        self._prepared: list[asyncio.Task[_Batch]] = []  # batch number -> its preparation
        self.flushes: list[asyncio.Task[None]] = []
        # (family, template) -> when this run last started it.
        self.started: dict[tuple[str, str], datetime] = {}

    async def decide(self, index: int) -> None:
        """Prediction `index`: stored with its batch, then decided; its result kept."""
        batch = await self.prepared(index // self.batch_size)
        recorded = batch.recorded.get(index)
        if recorded is None:  # refused before it was stored: its error is its result
            return
        row = self.rows[index]
        try:
            self.results[index] = await triggers.decide(
                self.client,
                self.store,
                row.family_id,
                PredictionRef(
                    prediction_id=recorded.id,
                    probability=row.probability,
                    confidence=row.confidence,
                    model_version=row.model_version,
                    window_days=row.window_days,
                ),
                task_queue=self.task_queue,
                cache=self.cache,
                record=_BatchRecorder(self, batch),
                family=batch.families.get(row.family_id),
            )
        finally:
            self.decided(batch)

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
            except TriggerError as err:
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
                self.results[index] = TriggerError(f"family: no family with id {family_id!r}")
            else:
                batch.recorded[index] = recorded
        batch.undecided = len(batch.recorded)
        if batch.recorded:
            await self._read_for(batch)
        return batch

    async def _read_for(self, batch: _Batch) -> None:
        """What the batch's predictions read: their families (handed to their runs, so no
        run reads its family again), the rollouts, and the last starts cooldowns count from."""
        family_ids = [recorded.family_id for recorded in batch.recorded.values()]
        batch.families = await self.store.families.contexts(family_ids)
        batch.rollouts = await self.store.rollouts.all()
        batch.cooldown_templates = frozenset(
            params.name
            for params in await self.cache.list_active()
            if params.trigger.type == "prediction" and params.trigger.cooldown_days > 0
        )
        if batch.cooldown_templates:
            batch.last_started = await self.store.starts.last_started_many(
                family_ids, batch.cooldown_templates
            )

    def decided(self, batch: _Batch) -> None:
        """One more of the batch decided; with the last one, its outcomes are written."""
        batch.undecided -= 1
        if batch.undecided == 0:
            self._flush(batch)

    def _flush(self, batch: _Batch) -> None:
        outcomes, batch.outcomes = batch.outcomes, []
        starts, batch.starts = batch.starts, []
        if outcomes or starts:
            self.flushes.append(asyncio.ensure_future(self._write(outcomes, starts)))

    async def _write(self, outcomes: list[Outcome], starts: list[NewStart]) -> None:
        await self.store.starts.add_many(starts)
        await self.store.predictions.set_outcomes(outcomes)

    async def finish(self) -> list[BaseException]:
        """Write what is left: the outcomes of batches some of whose predictions never ran
        (their family stopped at an unexpected error). The errors of these writes and of
        batch preparations nobody waited for."""
        for batch in self.batches:
            self._flush(batch)
        ended = await asyncio.gather(*self.flushes, *self._prepared, return_exceptions=True)
        return [error for error in ended if isinstance(error, BaseException)]


class _BatchRecorder:
    """`triggers.Recorder` for one prediction of a batch: its outcome and its start join the
    batch's; the guard is the run's cache, the cooldown and the rollout come from what the
    batch read and from this run's own starts."""

    def __init__(self, run: _Run, batch: _Batch) -> None:
        self._run, self._batch = run, batch

    @property
    def rollouts(self) -> dict[str, TemplateRollout]:
        return self._batch.rollouts

    async def guard_start(self, template: str) -> None:
        await self._run.cache.guard_start(template)

    async def outcome(
        self, prediction_id: int, *, template: str | None, workflow_id: str | None, outcome: str
    ) -> None:
        self._batch.outcomes.append(Outcome(prediction_id, template, workflow_id, outcome))

    async def record_start(self, start: NewStart) -> None:
        self._batch.starts.append(start)
        key = (start.family_id, start.template)
        known = self._run.started.get(key)
        self._run.started[key] = start.started_at if known is None else max(known, start.started_at)

    async def last_started(self, family_id: str, template: str) -> datetime | None:
        if template in self._batch.cooldown_templates:
            stored = self._batch.last_started.get((family_id, template))
        else:  # a template that changed since the batch was read
            stored = await self._run.store.starts.last_started(family_id, template)
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
    on_decided: Callable[[int, int], None] | None = None,
) -> list[Result]:
    """`triggers.predict` for each prediction, `concurrency` at a time, through one cache.

    Results come back in the order given: the `TriggerOutcome` of each prediction decided
    (a refused start included, with its reason), the `TriggerError` of each rejected before
    (an impossible score, an unknown family). Predictions for the same family run one after
    another, in the order given, so the cooldown, "already running" and upgrade answers are
    those of a one-by-one run.

    The store work goes by batches of `batch_size` consecutive predictions: their families
    are looked up and their rows inserted in one transaction (ids in the order given), the
    rollouts and the cooldowns' last starts read once, and their outcomes and starts written
    once all of them are decided. A prediction's cooldown also counts the starts this run
    made that are not written yet, so it answers as after a one-by-one run.

    `on_decided(done, total)` is told after each prediction is decided (for a progress line).
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    rows = list(predictions)
    run = _Run(client, store, rows, cache or TriggerCache(client, store), batch_size, task_queue)
    by_family: dict[str, list[int]] = {}
    for index, row in enumerate(rows):
        by_family.setdefault(row.family_id, []).append(index)
    gate = asyncio.Semaphore(concurrency)
    decided = 0

    async def family_in_order(indexes: Sequence[int]) -> None:
        nonlocal decided
        for index in indexes:
            async with gate:
                await run.decide(index)
            decided += 1
            if on_decided is not None:
                on_decided(decided, len(rows))

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
