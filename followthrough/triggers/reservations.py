"""Step 4 of the start pipeline: hold the new sequence's place under its limits, atomically.

`max_active` (per template) and `max_active_per_family` are counted from the places held in
the store (`store.reservations`), which a start takes in the same transaction as the count:
of two starts racing for the last place, one gets it and the other is refused. Visibility
counts (`governance.check_quota`, `limits.check_active_limit`) still run first, for the
sequences started before reservations existed; they lag, the reservation does not.

A limit that is full is checked against Temporal before the refusal: the places of sequences
that have ended in any way (completed, failed, cancelled, terminated, timed out), and of
starts that never happened, are released, and the reservation is tried once more. So a
sequence that ends without telling anyone frees its place when the place is next needed.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from contracts import SequenceParams
from followthrough.triggers.errors import QuotaExceeded, TooManyActive
from store import Store

# A place whose workflow Temporal does not know yet may belong to a start in flight: it is
# released only when it is older than this.
START_GRACE = timedelta(seconds=60)


async def reserve_place(
    client: Client,
    store: Store,
    params: SequenceParams,
    family_id: str,
    workflow_id: str,
    replacing: list[str],
) -> bool:
    """Hold the start's place; True when the place is new (release it if the start fails).
    Raises `QuotaExceeded` or `TooManyActive` when a limit is full of running sequences."""
    for _ in range(2):
        got = await store.reservations.reserve(
            workflow_id,
            family_id,
            params.name,
            family_limit=params.max_active_per_family,
            template_limit=params.max_active,
            replacing=replacing,
        )
        if got.full is None:
            return got.created
        ended = await ended_of(client, got.holders)
        if not ended:
            break
        await store.reservations.release(ended)
    if got.full == "template":
        raise QuotaExceeded(
            f"max_active: {params.name} already runs {len(got.holders)} sequences, its quota "
            f"is {params.max_active}; start refused (owner: {params.accountable})"
        )
    limit = params.max_active_per_family
    raise TooManyActive(
        f"max_active_per_family: family {family_id} already has {len(got.holders)} active "
        f"sequence{'s' if len(got.holders) != 1 else ''}; {params.name} allows at most {limit}"
    )


async def ended_of(client: Client, holders: list[tuple[str, datetime]]) -> list[str]:
    """The workflow ids among `holders` whose sequence is no longer running."""
    found = await asyncio.gather(*(_has_ended(client, w, at) for w, at in holders))
    return [workflow_id for (workflow_id, _), ended in zip(holders, found, strict=True) if ended]


async def _has_ended(client: Client, workflow_id: str, reserved_at: datetime) -> bool:
    try:
        described = await client.get_workflow_handle(workflow_id).describe()
    except RPCError as err:
        if err.status != RPCStatusCode.NOT_FOUND:
            raise
        return datetime.now(UTC) - reserved_at > START_GRACE  # never started
    if described.status == WorkflowExecutionStatus.RUNNING:
        return False
    # Closed: the place is free, unless it was taken again for a new run not started yet.
    closed = described.close_time
    return closed is None or closed >= reserved_at or datetime.now(UTC) - reserved_at > START_GRACE
