"""Event triggers: `followthrough event NAME --family ID` starts or signals a sequence.

Signal-with-start: the template bound to the event (`trigger: {type: event, event: NAME}`)
is started for the family with the event as its first signal, or, when that sequence is
already running, the running one receives the event (a wait `until: NAME` wakes up).
"""

from __future__ import annotations

from typing import Any

from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.common import SearchAttributePair, TypedSearchAttributes, WorkflowIDConflictPolicy
from temporalio.service import RPCError, RPCStatusCode

from contracts import Event, InterventionResult, InterventionStart, State, workflow_id_for
from followthrough.triggers import governance
from followthrough.triggers.limits import check_active_limit
from followthrough.triggers.start import TriggerError, TriggerOutcome
from store import Store
from store.families import context_of
from workflows.search_attributes import (
    FAMILY_ID,
    RISK_SCORE,
    STATE,
    TEMPLATE_NAME,
    TEMPLATE_VERSION,
)


async def send_event(
    client: Client,
    store: Store,
    name: str,
    family_id: str,
    data: dict[str, Any] | None = None,
    *,
    task_queue: str,
) -> TriggerOutcome:
    """Start the sequence bound to event `name` for the family, or signal the running one."""
    row = await store.families.get(family_id)
    if row is None:
        raise TriggerError(f"family: no family with id {family_id!r}")
    bound = [
        params
        for params in await store.templates.list_active()
        if params.active and params.trigger.type == "event" and params.trigger.event == name
    ]
    if not bound:
        # Not a trigger: it may still end running sequences that stop on it (a payment).
        stopped = await _signal_stoppers(client, store, name, family_id, data)
        if stopped:
            return TriggerOutcome(False, stopped[0], f"event {name!r} sent to {', '.join(stopped)}")
        raise TriggerError(f"event: no active template is bound to event {name!r}")
    params = max(bound, key=lambda p: p.priority)
    workflow_id = workflow_id_for(params.name, family_id)
    rollout = None
    if not await _running(client, workflow_id):
        # Only a new start counts against the limits and gets a rollout's version; an event
        # for a running one is a signal.
        params, rollout = await governance.choose_version(store, params, family_id)
        if params.max_active_per_family is not None:
            await check_active_limit(client, params, family_id, workflow_id)
        await governance.check_quota(client, params, workflow_id)
    handle = await client.start_workflow(
        params.workflow,
        InterventionStart(
            family_id=family_id,
            params=params,
            triggered_by=f"event:{name}",
            rollout=rollout,
            family=context_of(row),
        ),
        id=workflow_id,
        task_queue=task_queue,
        # A running sequence takes the event as a signal instead of a second start.
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        start_signal="record_event",
        start_signal_args=[Event(name=name, data=data or {})],
        search_attributes=TypedSearchAttributes(
            [
                # A run on today's code says `running` until it waits on a person or ends.
                SearchAttributePair(STATE, State.RUNNING.value),
                SearchAttributePair(FAMILY_ID, family_id),
                SearchAttributePair(TEMPLATE_NAME, params.name),
                SearchAttributePair(TEMPLATE_VERSION, params.version),
                SearchAttributePair(RISK_SCORE, 0.0),
            ]
        ),
        static_summary=f"{params.name} v{params.version} for family {family_id}",
        result_type=InterventionResult,
    )
    return TriggerOutcome(
        True, workflow_id, f"event {name!r} sent to {workflow_id}", params.name, handle
    )


async def _signal_stoppers(
    client: Client, store: Store, name: str, family_id: str, data: dict[str, Any] | None
) -> list[str]:
    """Give the event to the family's running sequences whose template has it in `stop_when`."""
    signalled = []
    for params in await store.templates.list_latest():
        if name not in params.stop_when:
            continue
        workflow_id = workflow_id_for(params.name, family_id)
        if await _running(client, workflow_id):
            await client.get_workflow_handle(workflow_id).signal(
                "record_event", Event(name=name, data=data or {})
            )
            signalled.append(workflow_id)
    return signalled


async def _running(client: Client, workflow_id: str) -> bool:
    try:
        described = await client.get_workflow_handle(workflow_id).describe()
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            return False
        raise
    return described.status == WorkflowExecutionStatus.RUNNING
