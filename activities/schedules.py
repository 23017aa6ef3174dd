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
from contracts.bounds import keep_last
from contracts.schedules import (
    MatchFamiliesRequest,
    MatchFamiliesResult,
    StartedSequence,
    StartPageRequest,
    StartPageResult,
    StartScheduledRequest,
    StartScheduledResult,
)
from store import Store
from store.models import Family

# The starts a page reports one by one (its last ones); its counts cover every start.
PAGE_STARTS_KEPT = 10

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

    async def active_schedule(self, template: str) -> SequenceParams | None:
        """The template's active version, if it is still a schedule-triggered one."""
        params = await self._store.templates.active(template)
        if params is None or params.trigger.type != "schedule" or params.trigger.schedule is None:
            # Deactivated (or no longer a schedule) since the schedule was synced: start nothing.
            return None
        return params

    @activity.defn
    async def match_scheduled_families(self, request: MatchFamiliesRequest) -> MatchFamiliesResult:
        """The active version of the template and the ids of the families its filter matches.

        Only runs that began before `ScheduledTrigger` went through pages call this."""
        params = await self.active_schedule(request.template)
        if params is None:
            return MatchFamiliesResult(params=None)
        families = await self._store.families.list()
        matched = [family.family_id for family in families if _matches(params, family)]
        return MatchFamiliesResult(params=params, family_ids=matched)

    @activity.defn
    async def start_scheduled_page(self, request: StartPageRequest) -> StartPageResult:
        """Start the sequence for the matching families of one page of them, in id order.

        A retry starts the same page again and finds the ones already started as running."""
        if request.version is None:
            params = await self.active_schedule(request.template)
        else:
            params = await self._store.templates.get(request.template, request.version)
        if params is None:
            return StartPageResult(version=None)
        families = await self._store.families.page(request.after, request.limit)
        result = StartPageResult(version=params.version)
        for family in families:
            if not _matches(params, family):
                continue
            activity.heartbeat(family.family_id)
            started = await self._start_one(params, family.family_id, request.triggered_by)
            result.matched += 1
            result.counts[started.outcome] = result.counts.get(started.outcome, 0) + 1
            result.starts.append(started)
        keep_last(result.starts, PAGE_STARTS_KEPT)
        if len(families) == request.limit:
            result.next_after = families[-1].family_id
        return result

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


def _matches(params: SequenceParams, family: Family) -> bool:
    """Whether the template's schedule filter matches the family's current data."""
    assert params.trigger.schedule is not None
    condition = params.trigger.schedule.filter
    if condition is None:
        return True
    try:
        value, _ = evaluate(condition, family_facts(family))
    except ValueError as err:
        raise ApplicationError(
            f"trigger.schedule.filter: {err}", type="BadCondition", non_retryable=True
        ) from err
    return bool(value)
