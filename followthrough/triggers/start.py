"""Starting sequences: by prediction (the template rules decide), by hand, or as given.

Each entry point here chooses what to start and hands the start to the start pipeline
(`followthrough.triggers.pipeline.start_intervention`), which applies every rule in one
order. One sequence per (template, family): a second trigger while one runs starts nothing
and says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from temporalio.client import Client

from contracts import FamilyContext, PredictionRef, SequenceParams
from followthrough.triggers import policy
from followthrough.triggers.cache import TriggerCache
from followthrough.triggers.errors import TriggerError
from followthrough.triggers.outcome import TriggerOutcome
from followthrough.triggers.pipeline import (
    StartRecords,
    StartRequest,
    StoreRecords,
    start_intervention,
)
from store import Store
from store.families import context_of
from store.rollouts import TemplateRollout

# The longest prediction window a model may name (ten years): past it, the number is a typo.
MAX_WINDOW_DAYS = 3650

__all__ = [
    "Recorder",
    "StoreRecorder",
    "TriggerError",
    "TriggerOutcome",
    "check_prediction",
    "decide",
    "predict",
    "start_sequence",
    "trigger",
]


async def start_sequence(
    client: Client,
    params: SequenceParams,
    family_id: str,
    *,
    task_queue: str,
    prediction: PredictionRef | None = None,
    triggered_by: str = "manual",
    check_limit: bool = True,
    store: Store | None = None,
    rollouts: Mapping[str, TemplateRollout] | None = None,
    family: FamilyContext | None = None,
) -> TriggerOutcome:
    """Start `params` for a family through the start pipeline, as given: no template rules
    choose it. A refusal is raised (`TooManyActive`, `QuotaExceeded`, ...).

    With `store`, the store's rules apply too (suspension, cooldown, a rollout's version:
    the one in `rollouts` when given, else read). `check_limit=False`: a dry run alone on
    its server, where no quota or family limit applies and a draft template may run.
    `family`: what the caller has read of the family; the run then does not read it again.
    """
    request = StartRequest(
        params,
        family_id,
        triggered_by,
        prediction=prediction,
        family=family,
        dry_run=not check_limit,
    )
    records = None if store is None else StoreRecords(client, store, rollouts=rollouts)
    outcome = await start_intervention(
        client, request, task_queue=task_queue, store=store, records=records
    )
    return outcome.raise_refusal()


async def trigger(
    client: Client, store: Store, template: str, family_id: str, *, task_queue: str
) -> TriggerOutcome:
    """Manual trigger of a named template for one family; a refusal is raised."""
    row = await store.families.get(family_id)
    if row is None:
        raise TriggerError(f"family: no family with id {family_id!r}")
    params = await store.templates.active(template)
    if params is None:
        raise TriggerError(f"template: no active template named {template!r}")
    request = StartRequest(params, family_id, "manual", family=context_of(row))
    outcome = await start_intervention(client, request, task_queue=task_queue, store=store)
    return outcome.raise_refusal()


def check_prediction(probability: float, confidence: float, window_days: int | None) -> None:
    """Reject impossible scores before anything is recorded or started."""
    if not 0.0 <= probability <= 1.0:
        raise TriggerError(f"probability: must be between 0 and 1, got {probability}")
    if not 0.0 <= confidence <= 100.0:
        raise TriggerError(f"confidence: must be between 0 and 100, got {confidence}")
    if window_days is not None and not 0 <= window_days <= MAX_WINDOW_DAYS:
        raise TriggerError(
            f"window-days: must be between 0 and {MAX_WINDOW_DAYS}, got {window_days}"
        )


class Recorder(StartRecords, Protocol):
    """What `decide` reads and records: the pipeline's `StartRecords`, and where a
    prediction's outcome goes. `StoreRecorder` goes to the store each time; a bulk run (see
    `followthrough.triggers.batch.predict_many`) collects both and writes them per batch."""

    async def outcome(
        self, prediction_id: int, *, template: str | None, workflow_id: str | None, outcome: str
    ) -> None: ...


class StoreRecorder(StoreRecords):
    """Each outcome and each start written at once, each read made when asked for."""

    async def outcome(
        self, prediction_id: int, *, template: str | None, workflow_id: str | None, outcome: str
    ) -> None:
        await self.store.predictions.set_outcome(
            prediction_id, template=template, workflow_id=workflow_id, outcome=outcome
        )


async def predict(
    client: Client,
    store: Store,
    family_id: str,
    probability: float,
    confidence: float,
    *,
    task_queue: str,
    window_days: int | None = None,
    model_version: str = "unknown",
    cache: TriggerCache | None = None,
    raise_refusals: bool = True,
) -> TriggerOutcome:
    """Record a prediction and start the best matching active template, by priority.

    With `cache` (a bulk run, see `followthrough.triggers.cache`), the template lists and
    the failure guard's pass are at most a few seconds old instead of read for this
    prediction. A refused start (`suspended`, `refused`) is raised unless `raise_refusals`
    is False; it is recorded as the prediction's outcome either way.
    """
    check_prediction(probability, confidence, window_days)
    row = await store.families.get(family_id)
    if row is None:
        raise TriggerError(f"family: no family with id {family_id!r}")
    recorded = await store.predictions.add(
        family_id,
        probability,
        confidence,
        window_days=window_days,
        model_version=model_version,
    )
    prediction = PredictionRef(
        prediction_id=recorded.id,
        probability=probability,
        confidence=confidence,
        model_version=model_version,
        window_days=window_days,
    )
    outcome = await decide(
        client,
        store,
        family_id,
        prediction,
        task_queue=task_queue,
        cache=cache,
        record=StoreRecorder(client, store, cache=cache),
        family=context_of(row),
    )
    return outcome.raise_refusal() if raise_refusals else outcome


async def decide(
    client: Client,
    store: Store,
    family_id: str,
    prediction: PredictionRef,
    *,
    task_queue: str,
    cache: TriggerCache | None = None,
    record: Recorder,
    family: FamilyContext | None = None,
) -> TriggerOutcome:
    """What `predict` does once the prediction is stored (valid, its family known): pick the
    best matching active template, hand its start to the pipeline (an upgrade when lighter
    prediction templates may run), and record the outcome in `record`. Refusals are
    returned as outcomes, not raised."""
    prediction_id = prediction.prediction_id
    if prediction_id is None:
        raise ValueError("decide: the prediction must be stored first (no prediction_id)")
    active = await (cache.list_active() if cache else store.templates.list_active())
    best = _best_match(active, prediction)
    if best is None:
        await record.outcome(
            prediction_id, template=None, workflow_id=None, outcome="below_threshold"
        )
        return TriggerOutcome(
            "below_threshold",
            None,
            f"no sequence: probability {prediction.probability} / confidence "
            f"{prediction.confidence} is below every active template's threshold",
        )
    latest = await (cache.list_latest() if cache else store.templates.list_latest())
    request = StartRequest(
        best,
        family_id,
        "prediction",
        prediction=prediction,
        family=family,
        supersedes=policy.lighter_than(best, latest),
    )
    outcome = await start_intervention(
        client, request, task_queue=task_queue, store=store, records=record
    )
    await record.outcome(
        prediction_id, template=best.name, workflow_id=outcome.workflow_id, outcome=outcome.status
    )
    return outcome


def _best_match(
    templates: list[SequenceParams], prediction: PredictionRef
) -> SequenceParams | None:
    """The active prediction template of highest priority whose rule the prediction meets."""
    candidates = [
        params
        for params in templates
        if params.active
        and params.trigger.type == "prediction"
        and params.trigger.when is not None
        and params.trigger.when.matches(prediction.probability, prediction.confidence)
    ]
    return max(candidates, key=lambda p: p.priority) if candidates else None
