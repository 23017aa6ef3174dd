"""Starting sequences: by prediction (the template rules decide), or by hand.

Thin by design: validate, pick the template, call Temporal. One sequence per (template,
family): a second trigger while one runs starts nothing and says so.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from temporalio.client import Client, WorkflowHandle
from temporalio.common import SearchAttributePair, TypedSearchAttributes, WorkflowIDConflictPolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from contracts import (
    FamilyContext,
    InterventionResult,
    InterventionStart,
    PredictionRef,
    SequenceParams,
    State,
    workflow_id_for,
)
from store import Store
from store.families import context_of
from store.rollouts import TemplateRollout
from workflows.search_attributes import (
    FAMILY_ID,
    RISK_SCORE,
    STATE,
    TEMPLATE_NAME,
    TEMPLATE_VERSION,
)

if TYPE_CHECKING:
    from followthrough.triggers.batch import TriggerCache


class TriggerError(ValueError):
    """Bad input to a trigger; the message names the field and the reason."""


@dataclass(frozen=True)
class TriggerOutcome:
    started: bool
    workflow_id: str | None
    message: str
    template: str | None = None
    handle: WorkflowHandle[Any, Any] | None = None


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
    """Start the template's workflow for a family, unless one is already running.

    `family`: what the caller has read of the family (`store.families.context_of`); the run
    then does not read it again.

    Raises `TooManyActive` when the family is at the template's `max_active_per_family`,
    `QuotaExceeded` when the template runs its `max_active` sequences. With `store`, a
    rollout in progress picks the version (see `followthrough.triggers.governance`): the one
    in `rollouts` when given (a bulk run reads them once per batch), else read from the store.
    """
    workflow_id = workflow_id_for(params.name, family_id)
    from followthrough.triggers import governance  # limits and governance build on this module
    from followthrough.triggers.limits import check_active_limit

    rollout = None
    if store is not None:
        params, rollout = await governance.choose_version(
            store, params, family_id, rollouts=rollouts
        )
    if check_limit:
        await check_active_limit(client, params, family_id, workflow_id)
    await governance.check_quota(client, params, workflow_id)
    attributes = TypedSearchAttributes(
        [
            # A run on today's code says `running` until it waits on a person or ends.
            SearchAttributePair(STATE, State.RUNNING.value),
            SearchAttributePair(FAMILY_ID, family_id),
            SearchAttributePair(TEMPLATE_NAME, params.name),
            SearchAttributePair(TEMPLATE_VERSION, params.version),
            SearchAttributePair(RISK_SCORE, prediction.probability if prediction else 0.0),
        ]
    )
    try:
        handle = await client.start_workflow(
            params.workflow,
            InterventionStart(
                family_id=family_id,
                params=params,
                prediction=prediction,
                triggered_by=triggered_by,
                rollout=rollout,
                family=family,
            ),
            id=workflow_id,
            task_queue=task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
            search_attributes=attributes,
            static_summary=f"{params.name} v{params.version} for family {family_id}",
            result_type=InterventionResult,
        )
    except WorkflowAlreadyStartedError:
        return TriggerOutcome(False, workflow_id, f"{workflow_id} is already running", params.name)
    return TriggerOutcome(True, workflow_id, f"started {workflow_id}", params.name, handle)


async def trigger(
    client: Client, store: Store, template: str, family_id: str, *, task_queue: str
) -> TriggerOutcome:
    """Manual trigger of a named template for one family."""
    row = await store.families.get(family_id)
    if row is None:
        raise TriggerError(f"family: no family with id {family_id!r}")
    params = await store.templates.active(template)
    if params is None:
        raise TriggerError(f"template: no active template named {template!r}")
    from followthrough.triggers import suspension as failures  # builds on this module

    await failures.guard_start(client, store, params.name)
    return await start_sequence(
        client, params, family_id, task_queue=task_queue, store=store, family=context_of(row)
    )


def check_prediction(probability: float, confidence: float, window_days: int | None) -> None:
    """Reject impossible scores before anything is recorded or started."""
    if not 0.0 <= probability <= 1.0:
        raise TriggerError(f"probability: must be between 0 and 1, got {probability}")
    if not 0.0 <= confidence <= 100.0:
        raise TriggerError(f"confidence: must be between 0 and 100, got {confidence}")
    if window_days is not None and window_days < 0:
        raise TriggerError(f"window-days: must not be negative, got {window_days}")


def _start_answers_running(params: SequenceParams, lighter: list[str]) -> bool:
    """Whether the start alone answers "already running" for `params` just as a `describe`
    before it would: no cooldown to report instead, no family or template limit that could
    refuse first, and no lighter sequence an upgrade would cancel before the start fails."""
    return (
        params.trigger.cooldown_days == 0
        and params.max_active_per_family is None
        and params.max_active is None
        and not lighter
    )


class Recorder(Protocol):
    """Where `decide` records a prediction's outcome, and what it reads for the cooldown and
    the rollout. `StoreRecorder` goes to the store each time; a bulk run (see
    `followthrough.triggers.batch.predict_many`) collects outcomes and writes them per batch."""

    @property
    def rollouts(self) -> Mapping[str, TemplateRollout] | None:
        """The rollouts in progress, by template; None: read them at the start."""
        ...

    async def outcome(
        self, prediction_id: int, *, template: str | None, workflow_id: str | None, outcome: str
    ) -> None: ...

    async def last_started(self, family_id: str, template: str) -> datetime | None: ...


class StoreRecorder:
    """Each outcome written at once, each cooldown and rollout read when asked for."""

    rollouts: Mapping[str, TemplateRollout] | None = None

    def __init__(self, store: Store) -> None:
        self.store = store

    async def outcome(
        self, prediction_id: int, *, template: str | None, workflow_id: str | None, outcome: str
    ) -> None:
        await self.store.predictions.set_outcome(
            prediction_id, template=template, workflow_id=workflow_id, outcome=outcome
        )

    async def last_started(self, family_id: str, template: str) -> datetime | None:
        return await self.store.predictions.last_started(family_id, template)


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
) -> TriggerOutcome:
    """Record a prediction and start the best matching active template, by priority.

    With `cache` (a bulk run, see `followthrough.triggers.batch`), the template lists and the
    failure guard's pass are at most a few seconds old instead of read for this prediction.
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
    return await decide(
        client,
        store,
        family_id,
        prediction,
        task_queue=task_queue,
        cache=cache,
        record=StoreRecorder(store),
        family=context_of(row),
    )


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
    best matching active template, check it, start it, and record the outcome in `record`."""
    prediction_id = prediction.prediction_id
    if prediction_id is None:
        raise ValueError("decide: the prediction must be stored first (no prediction_id)")
    probability, confidence = prediction.probability, prediction.confidence
    candidates = [
        params
        for params in await (cache.list_active() if cache else store.templates.list_active())
        if params.active
        and params.trigger.type == "prediction"
        and params.trigger.when is not None
        and params.trigger.when.matches(probability, confidence)
    ]
    if not candidates:
        await record.outcome(
            prediction_id, template=None, workflow_id=None, outcome="below_threshold"
        )
        return TriggerOutcome(
            False,
            None,
            f"no sequence: probability {probability} / confidence {confidence} "
            "is below every active template's threshold",
        )
    best = max(candidates, key=lambda p: p.priority)
    from followthrough.triggers import suspension as failures  # builds on this module

    try:
        if cache is not None:
            await cache.guard_start(best.name)
        else:
            await failures.guard_start(client, store, best.name)
    except failures.TemplateSuspended:
        await record.outcome(
            prediction_id, template=best.name, workflow_id=None, outcome="suspended"
        )
        raise
    from followthrough.triggers import policy  # builds on this module

    latest = await (cache.list_latest() if cache else store.templates.list_latest())
    lighter = [
        workflow_id_for(p.name, family_id)
        for p in latest
        if p.trigger.type == "prediction" and p.priority < best.priority and p.name != best.name
    ]
    # A running sequence is the more useful answer than the cooldown it also implies. Asked
    # only when a check before the start could answer otherwise: else the start's own
    # conflict policy says "already running", and one server round trip is saved.
    running_id = workflow_id_for(best.name, family_id)
    if not _start_answers_running(best, lighter) and await policy.is_running(client, running_id):
        await record.outcome(
            prediction_id, template=best.name, workflow_id=running_id, outcome="already_running"
        )
        return TriggerOutcome(False, running_id, f"{running_id} is already running", best.name)
    last = await policy.in_cooldown(store, best, family_id, last_started=record.last_started)
    if last is not None:
        await record.outcome(
            prediction_id, template=best.name, workflow_id=None, outcome="cooldown"
        )
        return TriggerOutcome(
            False,
            None,
            f"no sequence: {best.name} started for family {family_id} on "
            f"{last:%Y-%m-%d}, within its {best.trigger.cooldown_days}-day cooldown",
            best.name,
        )
    from followthrough.triggers.limits import TooManyActive, check_active_limit

    # Checked before an upgrade cancels anything, so a refused start changes nothing; the
    # lighter sequences an upgrade would cancel do not count against it.
    try:
        await check_active_limit(
            client, best, family_id, workflow_id_for(best.name, family_id), replacing=lighter
        )
    except TooManyActive:
        await record.outcome(prediction_id, template=best.name, workflow_id=None, outcome="refused")
        raise
    superseded = await policy.supersede_lighter(client, store, best, family_id, latest=latest)
    outcome = await start_sequence(
        client,
        best,
        family_id,
        task_queue=task_queue,
        check_limit=False,  # checked above, with the upgrade taken into account
        store=store,
        prediction=prediction,
        triggered_by="prediction",
        rollouts=record.rollouts,
        family=family,
    )
    await record.outcome(
        prediction_id,
        template=best.name,
        workflow_id=outcome.workflow_id,
        outcome=(
            ("upgraded" if superseded else "started") if outcome.started else "already_running"
        ),
    )
    if superseded and outcome.started:
        message = f"{outcome.message} (upgraded: cancelled {', '.join(superseded)})"
        return dataclasses.replace(outcome, message=message)
    return outcome
