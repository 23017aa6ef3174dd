"""Trigger policies: cooldown per (template, family), and upgrading to a heavier sequence.

Cooldown: no second start of a template for a family within `trigger.cooldown_days` of the
last one, whatever started either of them (a prediction, an event, a schedule run, a
person). The last start is the store's record of starts (`store.starts`), written by the
start pipeline for every start it makes.

Upgrade policy: a prediction that selects a heavier template (higher `priority`) while a
lighter prediction-triggered sequence runs for the same family *cancels the lighter one*
(its compensations run; the reason names the heavier template) once the heavier one has
started. The prediction's outcome is recorded as `upgraded`. A lighter or equal prediction
never disturbs a running sequence: the template rules pick the heaviest match, and the
running one keeps going (`already_running`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from contracts import CancelRequest, SequenceParams, workflow_id_for
from followthrough.platform import runs

log = logging.getLogger(__name__)


def in_cooldown(params: SequenceParams, last: datetime | None, now: datetime | None = None) -> bool:
    """Whether a start of `params` last made at `last` still holds off a new one."""
    days = params.trigger.cooldown_days
    if days <= 0 or last is None:
        return False
    return (now or datetime.now(UTC)) - last < timedelta(days=days)


def cooldown_message(params: SequenceParams, family_id: str, last: datetime) -> str:
    """Why nothing started: the last start and the cooldown it falls within."""
    return (
        f"no sequence: {params.name} started for family {family_id} on "
        f"{last:%Y-%m-%d}, within its {params.trigger.cooldown_days}-day cooldown"
    )


async def is_running(client: Client, workflow_id: str) -> bool:
    """Whether a sequence with this id is running now (whichever run is current)."""
    try:
        description = await client.get_workflow_handle(workflow_id).describe()
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            return False
        raise
    return description.status == WorkflowExecutionStatus.RUNNING


def lighter_than(heavier: SequenceParams, latest: Iterable[SequenceParams]) -> tuple[str, ...]:
    """The prediction templates of lower priority than `heavier`: what an upgrade replaces."""
    return tuple(
        params.name
        for params in latest
        if params.trigger.type == "prediction"
        and params.priority < heavier.priority
        and params.name != heavier.name
    )


async def supersede(
    client: Client, heavier: str, family_id: str, lighter: Iterable[str]
) -> list[str]:
    """Cancel the family's running sequences of the `lighter` templates; the names of those
    cancelled. One that cannot be told to cancel is left running (and logged): the family
    then has both, never neither."""
    cancelled = []
    for template in lighter:
        workflow_id = workflow_id_for(template, family_id)
        try:
            # The run found running is the one told to cancel, never a newer one of the id.
            running = await runs.current_run(client, workflow_id, running=True)
            if running is None:
                continue
            await running.signal(
                "cancel", CancelRequest(reason=f"superseded by {heavier}", by="trigger")
            )
        except RPCError as err:
            log.warning("could not cancel %s for %s: %s", workflow_id, heavier, err.message)
            continue
        cancelled.append(template)
    return cancelled
