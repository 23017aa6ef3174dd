"""`ScheduledTrigger` histories replay: a run recorded before pages (every matching id in one
payload) takes the old branch, a run by pages the `scheduled-pages` one, by its marker or (a
run started with the change level) without one.

Record them with `python -m tests.workflows.test_scheduled_replay NAME` (`by_list` was
recorded by the code before the patch; record only a new name, on purpose).
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import uuid
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer, Worker

from activities.schedules import ScheduleActivities
from contracts import SequenceParams, workflow_id_for
from contracts.schedules import ScheduledRun, StartedSequence
from followthrough.platform.devserver import find_binary
from followthrough.templates import builtin_templates
from store import Store, migrate
from tests.workflows.test_scheduled import scheduled_copy
from worker import workflow_runner
from workflows.scheduled import ScheduledTrigger

HISTORIES = Path(__file__).parent / "scheduled_histories"
# Each history and the change level its run was started with.
NAMES = {"by_list": 0, "by_pages": 0, "by_pages_level_8": 8}


@pytest.mark.parametrize("name", NAMES)
async def test_a_stored_scheduled_run_replays(name: str) -> None:
    history = WorkflowHistory.from_json(name, (HISTORIES / f"{name}.json").read_text())
    replayer = Replayer(workflows=[ScheduledTrigger], data_converter=pydantic_data_converter)
    result = await replayer.replay_workflow(history)
    assert result.replay_failure is None
    markers = [e for e in history.events if e.HasField("marker_recorded_event_attributes")]
    assert (len(markers) == 1) == (name == "by_pages")  # the patch marker of `scheduled-pages`


async def record(name: str) -> None:
    """Run one schedule firing over three families (two match) and store its history."""
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite+aiosqlite:///{folder}/record.db"
        await migrate(url)
        store = Store.from_url(url)
        for family_id, balance in (("F1", 120), ("F2", 0), ("F3", 40)):
            await store.families.upsert(
                family_id, family_id, attributes={"overdue_balance": balance}
            )
        for params in builtin_templates():
            await store.templates.save(params)
        template = await scheduled_copy(store)

        async def start_one(params: SequenceParams, family_id: str, by: str) -> StartedSequence:
            workflow_id = workflow_id_for(params.name, family_id)
            return StartedSequence(
                family_id=family_id, workflow_id=workflow_id, outcome="started", message="ok"
            )

        activities = ScheduleActivities(store, start_one)
        names = ("start_scheduled_page", "match_scheduled_families", "start_scheduled_sequences")
        env = await WorkflowEnvironment.start_time_skipping(
            data_converter=pydantic_data_converter,
            test_server_existing_path=str(find_binary("temporal-test-server")),
        )
        async with (
            env,
            Worker(
                env.client,
                task_queue="record",
                workflows=[ScheduledTrigger],
                workflow_runner=workflow_runner(),
                activities=[getattr(activities, n) for n in names if hasattr(activities, n)],
            ),
        ):
            handle = await env.client.start_workflow(
                ScheduledTrigger.run,
                ScheduledRun(template=template, schedule_id="record", changes=NAMES[name]),
                id=f"scheduled-{uuid.uuid4()}",
                task_queue="record",
            )
            await handle.result()
            history = await handle.fetch_history()
        await store.close()
    HISTORIES.mkdir(exist_ok=True)
    (HISTORIES / f"{name}.json").write_text(history.to_json())


if __name__ == "__main__":
    asyncio.run(record(sys.argv[1]))
