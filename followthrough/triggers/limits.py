"""`max_active_per_family`: how many sequences a family may be in at once.

Counted through Temporal visibility (`FamilyId = 'X' AND ExecutionStatus = 'Running'`), so
every template, code- or data-defined, counts. Visibility lags, so two triggers for the same
family in the same instant can both pass this count; the start pipeline's reservation
(`followthrough.triggers.reservations`) is the lock that refuses the second.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from contracts import SequenceParams
from followthrough.triggers.errors import TooManyActive, TriggerError

__all__ = ["TooManyActive", "active_query", "check_active_limit"]

log = logging.getLogger(__name__)


def active_query(family_id: str, excluding: Sequence[str] = ()) -> str:
    """The visibility query of the family's running sequences, but those in `excluding`."""
    for value in (family_id, *excluding):
        if "'" in value or "\\" in value:
            raise TriggerError(f"family: {family_id!r} cannot be used in a visibility query")
    query = f"FamilyId = '{family_id}' AND ExecutionStatus = 'Running'"
    for workflow_id in excluding:
        query += f" AND WorkflowId != '{workflow_id}'"
    return query


async def check_active_limit(
    client: Client,
    params: SequenceParams,
    family_id: str,
    workflow_id: str,
    *,
    replacing: Sequence[str] = (),
) -> None:
    """Refuse (TooManyActive) when the family is at the template's `max_active_per_family`.

    The sequence being started does not count itself: if it already runs, the start reports
    "already running" as usual instead of a refusal. Nor do the sequences in `replacing`
    (workflow ids an upgrade cancels for this start).
    """
    limit = params.max_active_per_family
    if limit is None:
        return
    try:
        counted = await client.count_workflows(active_query(family_id, [workflow_id, *replacing]))
    except RPCError as err:
        if err.status != RPCStatusCode.UNIMPLEMENTED:
            raise
        # The time-skipping test server (simulate) has no visibility and no other sequences.
        log.warning("cannot count the active sequences of %s: %s", family_id, err.message)
        return
    if counted.count >= limit:
        raise TooManyActive(
            f"max_active_per_family: family {family_id} already has {counted.count} active "
            f"sequence{'s' if counted.count != 1 else ''}; {params.name} allows at most {limit}"
        )
