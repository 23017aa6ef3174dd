"""`ScheduledTrigger`: what a template's Temporal Schedule starts each time it fires.

It decides nothing about any one family: an activity reads one page of families, starts
the template's sequence for those its filter matches now and answers with counts; the run
goes on page by page, so a run over 50,000 families passes a cursor, never their ids.
Each family's sequence is its own workflow (`intervention-{template}-{family}`), so a
family already in the sequence is reported as running, not started twice.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.schedules import ScheduleActivities
    from contracts.bounds import keep_last
    from contracts.schedules import (
        MatchFamiliesRequest,
        ScheduledRun,
        ScheduledRunResult,
        StartPageRequest,
        StartScheduledRequest,
    )

from workflows.changes import PAGES, changed, check_level

# Starts per activity: small enough that a retried batch repeats little, large enough that
# thousands of families stay a few dozen history events.
BATCH = 100
# The last starts a run reports one by one; `counts` has every one of them.
STARTS_KEPT = 100


@workflow.defn
class ScheduledTrigger:
    """Start a scheduled template's sequence for every family its filter matches."""

    @workflow.run
    async def run(self, run: ScheduledRun) -> ScheduledRunResult:
        check_level(run.changes)
        # Current details (the Web UI's "where it stands") add no command to the history.
        workflow.set_current_details(f"finding the families {run.template} is for")
        if changed(run.changes, PAGES):
            return await self.run_by_pages(run)
        return await self.run_by_list(run)

    async def run_by_pages(self, run: ScheduledRun) -> ScheduledRunResult:
        """Page through the families in id order: each activity reads one page, starts the
        matching ones and answers with counts, so no payload grows with the families."""
        result = ScheduledRunResult(template=run.template, version=None, matched=0)
        request = StartPageRequest(
            template=run.template, triggered_by=f"schedule:{run.schedule_id}", limit=BATCH
        )
        while True:
            workflow.set_current_details(
                f"starting {run.template}: {result.matched:,} families matched so far"
            )
            page = await workflow.execute_activity_method(
                ScheduleActivities.start_scheduled_page,
                request,
                start_to_close_timeout=timedelta(minutes=5),
                heartbeat_timeout=timedelta(seconds=30),
                retry_policy=RetryPolicy(maximum_attempts=5),
                summary=f"Start {run.template} for the next {BATCH} families"
                + (f" after {request.after}" if request.after else ""),
            )
            if page.version is None:
                workflow.logger.info("Template %s is no longer an active schedule", run.template)
                return result
            result.version = page.version
            result.matched += page.matched
            for outcome, count in page.counts.items():
                result.counts[outcome] = result.counts.get(outcome, 0) + count
            result.starts.extend(page.starts)
            keep_last(result.starts, STARTS_KEPT)
            if page.next_after is None:
                started = len(result.starts)
                workflow.set_current_details(
                    f"done: {run.template} for {started:,} of {result.matched:,} families"
                )
                return result
            request = request.model_copy(update={"version": page.version, "after": page.next_after})

    async def run_by_list(self, run: ScheduledRun) -> ScheduledRunResult:
        """How runs began before pages: every matching id in one payload (replay only)."""
        matched = await workflow.execute_activity_method(
            ScheduleActivities.match_scheduled_families,
            MatchFamiliesRequest(template=run.template),
            start_to_close_timeout=timedelta(minutes=2),
            summary=f"Find the families {run.template} is for",
        )
        params = matched.params
        if params is None:
            workflow.logger.info("Template %s is no longer an active schedule", run.template)
            return ScheduledRunResult(template=run.template, version=None, matched=0)
        result = ScheduledRunResult(
            template=run.template, version=params.version, matched=len(matched.family_ids)
        )
        ids = matched.family_ids
        for first in range(0, len(ids), BATCH):
            batch = ids[first : first + BATCH]
            workflow.set_current_details(
                f"starting {params.name}: {first:,} of {len(ids):,} families done"
            )
            started = await workflow.execute_activity_method(
                ScheduleActivities.start_scheduled_sequences,
                StartScheduledRequest(
                    params=params, family_ids=batch, triggered_by=f"schedule:{run.schedule_id}"
                ),
                start_to_close_timeout=timedelta(minutes=5),
                heartbeat_timeout=timedelta(seconds=30),
                retry_policy=RetryPolicy(maximum_attempts=5),
                summary=f"Start {params.name} for {len(batch)} families",
            )
            result.starts.extend(started.starts)
        workflow.set_current_details(
            f"done: {params.name} for {len(result.starts):,} of {len(ids):,} families"
        )
        return result
