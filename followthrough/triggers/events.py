"""Event triggers: `followthrough event NAME --family ID` starts or signals a sequence.

Signal-with-start: the template bound to the event (`trigger: {type: event, event: NAME}`)
is started for the family with the event as its first signal, or, when that sequence is
already running, the running one receives the event (a wait `until: NAME` wakes up). The
start goes through the start pipeline like every other, so a new start meets every rule;
an event for a running sequence is a signal, not a start, and always goes through.
"""

from __future__ import annotations

from typing import Any

from temporalio.client import Client

from contracts import Event, workflow_id_for
from followthrough.platform import runs
from followthrough.triggers.errors import TriggerError
from followthrough.triggers.outcome import TriggerOutcome
from followthrough.triggers.pipeline import StartRequest, start_intervention
from store import Store
from store.families import context_of


async def send_event(
    client: Client,
    store: Store,
    name: str,
    family_id: str,
    data: dict[str, Any] | None = None,
    *,
    task_queue: str,
) -> TriggerOutcome:
    """Start the sequence bound to event `name` for the family, or signal the running one.

    A refused start is raised (`TemplateSuspended`, `QuotaExceeded`, ...)."""
    row = await store.families.get(family_id)
    if row is None:
        raise TriggerError(f"family: no family with id {family_id!r}")
    event = Event(name=name, data=data or {})
    bound = [
        params
        for params in await store.templates.list_active()
        if params.active and params.trigger.type == "event" and params.trigger.event == name
    ]
    if not bound:
        # Not a trigger: it may still end running sequences that stop on it (a payment).
        stopped = await _signal_stoppers(client, store, event, family_id)
        if stopped:
            return TriggerOutcome(
                "already_running", stopped[0], f"event {name!r} sent to {', '.join(stopped)}"
            )
        raise TriggerError(f"event: no active template is bound to event {name!r}")
    params = max(bound, key=lambda p: p.priority)
    request = StartRequest(params, family_id, f"event:{name}", family=context_of(row), event=event)
    outcome = await start_intervention(client, request, task_queue=task_queue, store=store)
    return outcome.raise_refusal()


async def _signal_stoppers(client: Client, store: Store, event: Event, family_id: str) -> list[str]:
    """Give the event to the family's running sequences whose template has it in `stop_when`."""
    signalled = []
    for params in await store.templates.list_latest():
        if event.name not in params.stop_when:
            continue
        workflow_id = workflow_id_for(params.name, family_id)
        running = await runs.current_run(client, workflow_id, running=True)
        if running is not None:  # that run gets the event, never a newer one of the id
            await running.signal("record_event", event)
            signalled.append(workflow_id)
    return signalled
