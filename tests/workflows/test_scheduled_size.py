"""A schedule run over 50,000 families stays far under Temporal's 2 MB payload limit: the
run passes a cursor and counts between its activities, never the families' ids."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from types import SimpleNamespace
from typing import cast

import pytest
from temporalio.worker import Worker

from activities.schedules import ScheduleActivities
from contracts import SequenceParams, workflow_id_for
from contracts.schedules import ScheduledRun, ScheduledRunResult, StartedSequence
from store import Store
from store.models import Family
from tests.workflows.test_scheduled import scheduled_copy
from worker import workflow_runner
from workflows.scheduled import STARTS_KEPT, ScheduledTrigger

FAMILIES = 50_000
PAYLOAD_LIMIT = 2 * 1024 * 1024


@dataclass
class ManyFamilies:
    """`count` families in memory, every other one with an overdue balance (what the
    shipped filter asks for): the store's families as the schedule activities read them."""

    count: int

    def row(self, n: int) -> Family:
        balance = 50 if n % 2 else 0
        return Family(
            family_id=f"F{n:06d}",
            name="Family",
            timezone="America/New_York",
            opted_out=[],
            engagement_score=None,
            preferred_channel=None,
            attributes={"overdue_balance": balance},
        )

    async def page(self, after: str | None, limit: int) -> list[Family]:
        first = 0 if after is None else int(after[1:]) + 1
        return [self.row(n) for n in range(first, min(first + limit, self.count))]

    async def list(self) -> list[Family]:
        return [self.row(n) for n in range(self.count)]


@pytest.mark.timeout(300)
async def test_a_run_over_50000_families_stays_far_under_the_payload_limit(
    time_env, store, settings
):
    name = await scheduled_copy(store)
    started: list[str] = []

    async def start_one(params: SequenceParams, family_id: str, by: str) -> StartedSequence:
        # The pipeline itself is tested elsewhere; here only the sizes of what the run passes.
        started.append(family_id)
        workflow_id = workflow_id_for(params.name, family_id)
        return StartedSequence(
            family_id=family_id, workflow_id=workflow_id, outcome="started", message="started"
        )

    many = SimpleNamespace(templates=store.templates, families=ManyFamilies(FAMILIES))
    activities = ScheduleActivities(cast(Store, many), start_one)
    queue = f"scheduled-size-{uuid.uuid4()}"
    names = ("start_scheduled_page", "match_scheduled_families", "start_scheduled_sequences")
    async with Worker(
        time_env.client,
        task_queue=queue,
        workflows=[ScheduledTrigger],
        workflow_runner=workflow_runner(),
        activities=[getattr(activities, n) for n in names if hasattr(activities, n)],
    ):
        handle = await time_env.client.start_workflow(
            ScheduledTrigger.run,
            ScheduledRun(template=name, schedule_id="size"),
            id=f"scheduled-{uuid.uuid4()}",
            task_queue=queue,
            result_type=ScheduledRunResult,
        )
        result = await handle.result()
        history = await handle.fetch_history()

    sizes = [event.ByteSize() for event in history.events]
    # The largest event (an activity's input or result, the run's result) is far under the
    # limit of one payload, and the whole history under the limit of one payload too.
    assert max(sizes) < PAYLOAD_LIMIT // 50, max(sizes)
    assert sum(sizes) < PAYLOAD_LIMIT, sum(sizes)
    assert result.matched == FAMILIES // 2 == len(started) == len(set(started))
    assert result.count("started") == FAMILIES // 2
    assert len(result.starts) == STARTS_KEPT
