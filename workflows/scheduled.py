"""`ScheduledTrigger`: what a template's Temporal Schedule starts each time it fires.

It decides nothing about any one family: an activity reads which families the template's
filter matches now, and batches of starts go out through another. Each family's sequence
is its own workflow (`intervention-{template}-{family}`), so a family already in the
sequence is reported as running, not started twice.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.schedules import ScheduleActivities
    from contracts.schedules import (
        MatchFamiliesRequest,
        ScheduledRun,
        ScheduledRunResult,
        StartScheduledRequest,
    )

# Starts per activity: small enough that a retried batch repeats little, large enough that
# thousands of families stay a few dozen history events.
BATCH = 100


@workflow.defn
class ScheduledTrigger:
    """Start a scheduled template's sequence for every family its filter matches."""

    @workflow.run
    async def run(self, run: ScheduledRun) -> ScheduledRunResult:
        # Current details (the Web UI's "where it stands") add no command to the history.
        workflow.set_current_details(f"finding the families {run.template} is for")
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
