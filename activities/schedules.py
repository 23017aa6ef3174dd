"""Schedule triggers: find the families a scheduled template matches, start their sequences.

The start itself is handed in (`start_one`, built by the worker from the starter's trigger
code), so this module keeps to its layer: it reads the store and calls what it was given.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.conditions import evaluate
from contracts import SequenceParams
from contracts.schedules import (
    MatchFamiliesRequest,
    MatchFamiliesResult,
    StartedSequence,
    StartScheduledRequest,
    StartScheduledResult,
)
from store import Store
from store.models import Family

StartOne = Callable[[SequenceParams, str, str], Awaitable[StartedSequence]]
"""(template snapshot, family id, triggered_by) -> what the start did."""


def family_facts(family: Family) -> dict[str, Any]:
    """A family's current data as a schedule filter sees it (the facts conditions read)."""
    return {
        **(family.attributes or {}),
        "engagement_score": family.engagement_score,
        "preferred_channel": family.preferred_channel,
        "opted_out": family.opted_out or [],
        "timezone": family.timezone,
    }


class ScheduleActivities:
    """What a scheduled run does outside the workflow: one store read, then the starts."""

    def __init__(self, store: Store, start_one: StartOne) -> None:
        self._store = store
        self._start_one = start_one

    @activity.defn
    async def match_scheduled_families(self, request: MatchFamiliesRequest) -> MatchFamiliesResult:
        """The active version of the template and the ids of the families its filter matches."""
        params = await self._store.templates.active(request.template)
        if params is None or params.trigger.type != "schedule" or params.trigger.schedule is None:
            # Deactivated (or no longer a schedule) since the schedule was synced: start nothing.
            return MatchFamiliesResult(params=None)
        condition = params.trigger.schedule.filter
        matched = []
        for family in await self._store.families.list():
            if condition is None:
                matched.append(family.family_id)
                continue
            try:
                value, _ = evaluate(condition, family_facts(family))
            except ValueError as err:
                raise ApplicationError(
                    f"trigger.schedule.filter: {err}", type="BadCondition", non_retryable=True
                ) from err
            if value:
                matched.append(family.family_id)
        return MatchFamiliesResult(params=params, family_ids=matched)

    @activity.defn
    async def start_scheduled_sequences(
        self, request: StartScheduledRequest
    ) -> StartScheduledResult:
        """Start the sequence for each family; a retry finds the ones started as running."""
        starts = []
        total = len(request.family_ids)
        for done, family_id in enumerate(request.family_ids):
            # The Web UI shows the last heartbeat of a running activity: its progress.
            activity.heartbeat(f"{done} of {total} started; next {family_id}")
            starts.append(await self._start_one(request.params, family_id, request.triggered_by))
        return StartScheduledResult(starts=starts)
