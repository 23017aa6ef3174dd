"""Trigger policies: cooldown per (template, family), and upgrading to a heavier sequence.

Upgrade policy: a prediction that selects a heavier template (higher `priority`) while a
lighter prediction-triggered sequence runs for the same family *cancels the lighter one*
(its compensations run; the reason names the heavier template) and starts the heavier one.
The prediction's outcome is recorded as `upgraded`. A lighter or equal prediction never
disturbs a running sequence: the template rules pick the heaviest match, and the running
one keeps going (`already_running`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from contracts import CancelRequest, SequenceParams, workflow_id_for
from store import Store


async def in_cooldown(
    store: Store,
    params: SequenceParams,
    family_id: str,
    *,
    last_started: Callable[[str, str], Awaitable[datetime | None]] | None = None,
) -> datetime | None:
    """The last start of `params` for the family, if it is within the template's cooldown.

    `last_started(family_id, template)`: where that last start is read (a bulk run answers
    from its batch); by default `store.predictions.last_started`."""
    days = params.trigger.cooldown_days
    if days <= 0:
        return None
    read = last_started or store.predictions.last_started
    last = await read(family_id, params.name)
    if last is not None and datetime.now(UTC) - last < timedelta(days=days):
        return last
    return None


async def is_running(client: Client, workflow_id: str) -> bool:
    """Whether a sequence with this id is running now."""
    try:
        description = await client.get_workflow_handle(workflow_id).describe()
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            return False
        raise
    return description.status == WorkflowExecutionStatus.RUNNING


async def supersede_lighter(
    client: Client,
    store: Store,
    heavier: SequenceParams,
    family_id: str,
    *,
    latest: list[SequenceParams] | None = None,
) -> list[str]:
    """Cancel the family's running prediction sequences of lower priority; their names.

    `latest`: the templates' newest versions when the caller has just read them."""
    cancelled = []
    if latest is None:
        latest = await store.templates.list_latest()
    for params in latest:
        if (
            params.name == heavier.name
            or params.trigger.type != "prediction"
            or params.priority >= heavier.priority
        ):
            continue
        workflow_id = workflow_id_for(params.name, family_id)
        if not await is_running(client, workflow_id):
            continue
        await client.get_workflow_handle(workflow_id).signal(
            "cancel", CancelRequest(reason=f"superseded by {heavier.name}", by="trigger")
        )
        cancelled.append(params.name)
    return cancelled
