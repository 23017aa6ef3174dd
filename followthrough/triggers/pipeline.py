"""The start pipeline: the one way an intervention sequence starts, whatever asked for it.

Predictions (one at a time, in batches, from a CSV import), events (signal-with-start),
a person (`trigger`), a schedule run's families, the demo and dry runs (`simulate`) all hand
their start to `start_intervention`, so every start meets the same rules in the same order.
It is the only place outside tests and benchmarks that calls `client.start_workflow`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from contracts import (
    Event,
    FamilyContext,
    InterventionResult,
    InterventionStart,
    PredictionRef,
    SequenceParams,
    workflow_id_for,
)
from contracts.webhook_rules import template_problems
from followthrough.triggers import (
    governance,
    holdout,
    labels,
    limits,
    policy,
    reservations,
    suspension,
)
from followthrough.triggers.cache import TriggerCache
from followthrough.triggers.consent import check_consent
from followthrough.triggers.errors import TemplateSuspended, TriggerError
from followthrough.triggers.outcome import TriggerOutcome, refused
from store import Store
from store.families import context_of
from store.rollouts import TemplateRollout
from store.starts import NewStart
from workflows.changes import LEVEL


@dataclass(frozen=True)
class StartRequest:
    """One sequence to start: the template the trigger chose, for one family.

    `family`: what the caller has read of the family (`store.families.context_of`); else it
    is read from the store, and the run does not read it again either way.
    `supersedes`: the lighter templates an upgrade replaces; they count as gone for the
    family's limit and are cancelled once the new sequence has started.
    `event`: signal-with-start: the sequence gets the event as its first `record_event`
    signal, and a sequence already running gets it instead of a second start.
    `dry_run`: a simulation, alone on a server of its own: the template may be a draft
    (not active), and no quota or family limit applies.
    """

    params: SequenceParams
    family_id: str
    triggered_by: str
    prediction: PredictionRef | None = None
    family: FamilyContext | None = None
    supersedes: tuple[str, ...] = ()
    event: Event | None = None
    dry_run: bool = False


class StartRecords(Protocol):
    """What the pipeline reads of the store, and where it records a start it made.

    `StoreRecords` asks the store each time; a bulk run (`followthrough.triggers.batch`)
    answers from what it read once per batch and writes its starts per batch.
    """

    @property
    def rollouts(self) -> Mapping[str, TemplateRollout] | None:
        """The rollouts in progress, by template; None: read the template's at the start."""
        ...

    async def guard_start(self, template: str) -> None:
        """Raise `TemplateSuspended` when the template's new starts are refused."""
        ...

    async def last_started(self, family_id: str, template: str) -> datetime | None:
        """When the template was last started for the family (what a cooldown counts from)."""
        ...

    async def record_start(self, start: NewStart) -> None:
        """Keep a start for the cooldowns after it."""
        ...


class StoreRecords:
    """Each read and each start record goes to the store when asked for; with `cache`, the
    suspension guard's pass is the cache's (see `followthrough.triggers.cache`)."""

    def __init__(
        self,
        client: Client,
        store: Store,
        *,
        cache: TriggerCache | None = None,
        rollouts: Mapping[str, TemplateRollout] | None = None,
    ) -> None:
        self.client, self.store, self.cache, self.rollouts = client, store, cache, rollouts

    async def guard_start(self, template: str) -> None:
        if self.cache is not None:
            await self.cache.guard_start(template)
        else:
            await suspension.guard_start(self.client, self.store, template)

    async def last_started(self, family_id: str, template: str) -> datetime | None:
        return await self.store.starts.last_started(family_id, template)

    async def record_start(self, start: NewStart) -> None:
        await self.store.starts.add(start)


async def start_intervention(
    client: Client,
    request: StartRequest,
    *,
    task_queue: str,
    store: Store | None = None,
    records: StartRecords | None = None,
) -> TriggerOutcome:
    """Start the request's sequence, in this fixed order; the first step that refuses ends it.

    1. Eligibility: the family is known; the template is active and its webhooks keep the
       rules that need no settings (`contracts.webhook_rules`); it is not suspended
       (`suspension.guard_start`); the family has not opted out of every channel it uses
       (`consent`); no start of it for the family within its cooldown (a running sequence
       is answered `already_running` instead); the template is under its quota
       (`max_active`); the family is under `max_active_per_family`, the sequences an
       upgrade replaces counted as already gone.
    2. Version: a rollout in progress picks it (`governance.choose_version`); the rules
       above read the template as the trigger chose it.
    3. Holdout (`holdout.held_out`): no sequence; the decision is kept like a start.
    4. Reservations: the sequence's place under `max_active` and `max_active_per_family`
       is taken in the store, atomically (`reservations.reserve_place`); a start that then
       fails gives it back.
    5. Start the new sequence (one per template and family: a second is `already_running`),
       and record the start for later cooldowns.
    6. Only then cancel the lighter sequences it supersedes (`upgraded`).

    Nothing changes before step 5, so a refusal leaves the family as it was; a failure at
    step 6 leaves the lighter sequence running next to the new one, never neither. Without
    a store (a dry run, a test of one workflow), the rules the store holds (suspension,
    cooldown, rollout, family lookup) have nothing to read and are passed over. An event
    for a sequence already running is a signal, not a start: it goes to that sequence and
    none of the steps apply. Refusals come back as outcomes, never raised;
    `outcome.raise_refusal()` raises them.
    """
    if records is None and store is not None:
        records = StoreRecords(client, store)
    params, family_id = request.params, request.family_id
    workflow_id = workflow_id_for(params.name, family_id)
    if request.event is not None and await policy.is_running(client, workflow_id):
        # Not a new start: the running sequence takes the event as a signal.
        given = await _start(client, request, params, None, request.family, task_queue)
        return dataclasses.replace(given, status="already_running")
    # 1. Eligibility
    family = request.family or await _read_family(store, family_id)
    refusal = await _eligibility(client, request, family, store, records)
    if refusal is not None:
        return refusal
    # 2. Version
    params, rollout = await _version(store, records, params, family_id)
    if not request.dry_run and holdout.held_out(params, family_id):  # 3. Holdout
        return await _hold_out(request, params, records, workflow_id)
    # 4. Reservations, then 5. Start
    outcome = await _reserved_start(client, request, store, params, rollout, family, task_queue)
    if not outcome.started:
        return outcome
    if records is not None:
        await records.record_start(_record_of(request, params, workflow_id))
    # 6. Supersede, now that the heavier sequence runs.
    return await _supersede(client, request, outcome)


async def _reserved_start(
    client: Client,
    request: StartRequest,
    store: Store | None,
    params: SequenceParams,
    rollout: str | None,
    family: FamilyContext | None,
    task_queue: str,
) -> TriggerOutcome:
    """Steps 4 and 5: hold the place (not for a dry run, nor without a store), then start;
    a place taken for a start that did not happen is given back."""
    if store is None or request.dry_run:
        return await _start(client, request, params, rollout, family, task_queue)
    family_id = request.family_id
    workflow_id = workflow_id_for(params.name, family_id)
    replaced = [workflow_id_for(name, family_id) for name in request.supersedes]
    try:
        new = await reservations.reserve_place(
            client, store, params, family_id, workflow_id, replaced
        )
    except TriggerError as err:
        return refused(err, params.name)
    try:
        outcome = await _start(client, request, params, rollout, family, task_queue)
    except BaseException:
        if new:
            await store.reservations.release([workflow_id])
        raise
    if new and not outcome.started and outcome.status != "already_running":
        await store.reservations.release([workflow_id])
    return outcome


async def _read_family(store: Store | None, family_id: str) -> FamilyContext | None:
    if store is None:
        return None
    row = await store.families.get(family_id)
    return None if row is None else context_of(row)


async def _eligibility(
    client: Client,
    request: StartRequest,
    family: FamilyContext | None,
    store: Store | None,
    records: StartRecords | None,
) -> TriggerOutcome | None:
    """Step 1: the refusal, or None when the start may go ahead."""
    params, family_id = request.params, request.family_id
    workflow_id = workflow_id_for(params.name, family_id)
    try:
        if family is None and store is not None:
            raise TriggerError(f"family: no family with id {family_id!r}")
        if not params.active and not request.dry_run:
            raise TriggerError(f"template: {params.name} v{params.version} is not active")
        _check_webhooks(params)
        if records is not None:
            await records.guard_start(params.name)
        if family is not None:
            check_consent(params, family)
    except TemplateSuspended as err:
        return refused(err, params.name, "suspended")
    except TriggerError as err:
        return refused(err, params.name)
    if records is not None:
        waiting = await _cooldown(client, request, records, workflow_id)
        if waiting is not None:
            return waiting
    if request.dry_run:
        return None
    replaced = [workflow_id_for(name, family_id) for name in request.supersedes]
    try:
        await governance.check_quota(client, params, workflow_id)
        await limits.check_active_limit(client, params, family_id, workflow_id, replacing=replaced)
    except TriggerError as err:
        return refused(err, params.name)
    return None


def _check_webhooks(params: SequenceParams) -> None:
    """A template whose webhooks read other secrets or hide their host never starts.

    (The allowed hosts are the worker's settings: each call checks them again.)
    """
    problems = template_problems(params, None)
    if problems:
        where = f"{params.name} v{params.version}"
        raise TriggerError(f"template: {where} breaks the webhook rules: {problems[0]}")


async def _version(
    store: Store | None,
    records: StartRecords | None,
    params: SequenceParams,
    family_id: str,
) -> tuple[SequenceParams, str | None]:
    """Step 2: the version a rollout in progress gives the family, and why; else `params`."""
    if store is None:
        return params, None
    rollouts = records.rollouts if records is not None else None
    return await governance.choose_version(store, params, family_id, rollouts=rollouts)


async def _hold_out(
    request: StartRequest,
    params: SequenceParams,
    records: StartRecords | None,
    workflow_id: str,
) -> TriggerOutcome:
    """Step 3 (never in a dry run): no sequence, outcome `held_out`; the decision is kept
    like a start, with the version the family would have got, so cooldowns count it.
    Lighter sequences it would have replaced keep running."""
    if records is not None:
        record = _record_of(request, params, workflow_id)
        await records.record_start(dataclasses.replace(record, held_out=True))
    return TriggerOutcome(
        "held_out", None, holdout.holdout_reason(params, request.family_id), params.name
    )


async def _supersede(
    client: Client, request: StartRequest, outcome: TriggerOutcome
) -> TriggerOutcome:
    """Step 6: cancel the lighter sequences the started one replaces; `upgraded` if any."""
    heavier = request.params.name
    cancelled = await policy.supersede(client, heavier, request.family_id, request.supersedes)
    if not cancelled:
        return outcome
    message = f"{outcome.message} (upgraded: cancelled {', '.join(cancelled)})"
    return dataclasses.replace(outcome, status="upgraded", message=message)


async def _cooldown(
    client: Client, request: StartRequest, records: StartRecords, workflow_id: str
) -> TriggerOutcome | None:
    """The cooldown's answer, or None when it does not hold the start off."""
    params, family_id = request.params, request.family_id
    if params.trigger.cooldown_days <= 0:
        return None  # nothing to read
    last = await records.last_started(family_id, params.name)
    if last is None or not policy.in_cooldown(params, last):
        return None
    # A running sequence is the more useful answer than the cooldown it also implies; asked
    # only here, so a start the cooldown does not hold off makes no round trip for it.
    if await policy.is_running(client, workflow_id):
        return _already_running(workflow_id, params.name)
    return TriggerOutcome(
        "cooldown", None, policy.cooldown_message(params, family_id, last), params.name
    )


async def _start(
    client: Client,
    request: StartRequest,
    params: SequenceParams,
    rollout: str | None,
    family: FamilyContext | None,
    task_queue: str,
) -> TriggerOutcome:
    """Step 5: the one `start_workflow` call of the product."""
    family_id, prediction, event = request.family_id, request.prediction, request.event
    workflow_id = workflow_id_for(params.name, family_id)
    try:
        handle = await client.start_workflow(
            params.workflow,
            InterventionStart(
                family_id=family_id,
                params=params,
                prediction=prediction,
                triggered_by=request.triggered_by,
                rollout=rollout,
                family=family,
                changes=LEVEL,
            ),
            id=workflow_id,
            task_queue=task_queue,
            # An event's sequence that runs already takes the event instead of a second start.
            id_conflict_policy=(
                WorkflowIDConflictPolicy.USE_EXISTING
                if event is not None
                else WorkflowIDConflictPolicy.FAIL
            ),
            start_signal="record_event" if event is not None else None,
            start_signal_args=[event] if event is not None else [],
            search_attributes=labels.search_attributes(params, family_id, prediction),
            static_summary=labels.run_summary(params, family_id, prediction, event),
            result_type=InterventionResult,
        )
    except WorkflowAlreadyStartedError:
        return _already_running(workflow_id, params.name)
    message = (
        f"started {workflow_id}" if event is None else f"event {event.name!r} sent to {workflow_id}"
    )
    return TriggerOutcome("started", workflow_id, message, params.name, handle)


def _already_running(workflow_id: str, template: str) -> TriggerOutcome:
    return TriggerOutcome(
        "already_running", workflow_id, f"{workflow_id} is already running", template
    )


def _record_of(request: StartRequest, params: SequenceParams, workflow_id: str) -> NewStart:
    return NewStart(
        family_id=request.family_id,
        template=params.name,
        version=params.version,
        workflow_id=workflow_id,
        triggered_by=request.triggered_by,
        started_at=datetime.now(UTC),
        prediction_id=None if request.prediction is None else request.prediction.prediction_id,
    )
