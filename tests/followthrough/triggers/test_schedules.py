"""Schedule triggers on the real dev server: sync, trigger now, matching families start."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import uuid
from typing import Any
from zoneinfo import ZoneInfo

from temporalio.client import Client, ScheduleActionStartWorkflow, ScheduleHandle
from temporalio.service import RPCError, RPCStatusCode

from contracts import CancelRequest, SequenceParams, workflow_id_for
from contracts.schedules import ScheduledRunResult
from followthrough.triggers.schedules import schedule_id_for, scheduled_starter, sync_schedules
from followthrough.triggers.start import trigger
from store import Store
from workflows.changes import LEVEL

CHANGES = f"workflow changes {LEVEL}"  # every schedule's note ends with the level it starts


async def _scheduled_copy(store: Store) -> SequenceParams:
    """The shipped payment reminder under a name of its own, so runs share no workflow id."""
    shipped = await store.templates.active("payment_reminder")
    assert shipped is not None and shipped.trigger.type == "schedule"
    data: dict[str, Any] = shipped.model_dump(mode="json", exclude={"version", "active"})
    data["name"] = f"payment_reminder_{uuid.uuid4().hex[:8]}"
    saved, _ = await store.templates.save(SequenceParams.model_validate(data))
    return saved


async def _run(client: Client, handle: ScheduleHandle, runs: int) -> ScheduledRunResult:
    """Wait for the schedule's `runs`-th action, then for that dispatcher's result."""
    for _ in range(100):
        recent = (await handle.describe()).info.recent_actions
        if len(recent) >= runs:
            workflow_id = recent[runs - 1].action.workflow_id  # type: ignore[attr-defined]
            dispatcher = client.get_workflow_handle(workflow_id, result_type=ScheduledRunResult)
            return await dispatcher.result()
        await asyncio.sleep(0.1)
    raise AssertionError(f"the schedule did not run {runs} time(s)")


async def _exists(client: Client, workflow_id: str) -> bool:
    try:
        await client.get_workflow_handle(workflow_id).describe()
    except RPCError as err:
        assert err.status == RPCStatusCode.NOT_FOUND
        return False
    return True


async def test_sync_then_trigger_starts_the_matching_families(
    dev_client, dev_worker, store, settings
):
    await store.families.upsert("F1", "Martinez", attributes={"overdue_balance": 120.5})
    await store.families.upsert("F2", "Okafor", attributes={"overdue_balance": 40})
    await store.families.upsert("F3", "Haddad", attributes={"overdue_balance": 0})
    params = await _scheduled_copy(store)
    prefix = f"test-{uuid.uuid4().hex[:8]}-"
    queue = settings.task_queue
    mine = schedule_id_for(params.name, prefix)
    shipped = schedule_id_for("payment_reminder", prefix)

    actions = await sync_schedules(dev_client, store, task_queue=queue, prefix=prefix)
    try:
        assert sorted((a.schedule_id, a.action) for a in actions) == sorted(
            [(mine, "created"), (shipped, "created")]
        )
        again = await sync_schedules(dev_client, store, task_queue=queue, prefix=prefix)
        assert {a.action for a in again} == {"unchanged"}

        handle = dev_client.get_schedule_handle(mine)
        described = await handle.describe()
        assert described.schedule.spec.time_zone_name == "America/New_York"
        assert described.schedule.state.note == (
            f"{params.name} v1: '0 9 * * 1' America/New_York on {queue}, {CHANGES}"
        )
        action = described.schedule.action
        assert isinstance(action, ScheduleActionStartWorkflow)
        assert json.loads(action.args[0].data)["changes"] == LEVEL
        # Mondays 09:00 in New York, whatever the season.
        for upcoming in described.info.next_action_times[:3]:
            local = upcoming.astimezone(ZoneInfo("America/New_York"))
            assert (local.weekday(), local.hour, local.minute) == (0, 9, 0)

        await handle.trigger()
        first = await _run(dev_client, handle, 1)
        assert (first.template, first.version, first.matched) == (params.name, 1, 2)
        assert sorted((s.family_id, s.outcome) for s in first.starts) == [
            ("F1", "started"),
            ("F2", "started"),
        ]
        assert not await _exists(dev_client, workflow_id_for(params.name, "F3"))

        # Again while they run: nothing is started twice.
        await handle.trigger()
        second = await _run(dev_client, handle, 2)
        assert sorted((s.family_id, s.outcome) for s in second.starts) == [
            ("F1", "already_running"),
            ("F2", "already_running"),
        ]

        for family in ("F1", "F2"):
            sequence = dev_client.get_workflow_handle(workflow_id_for(params.name, family))
            await sequence.signal("cancel", CancelRequest(reason="test over"))
            await sequence.result()
        # Finished, but within the template's 30-day cooldown: not started again.
        await handle.trigger()
        third = await _run(dev_client, handle, 3)
        assert {s.outcome for s in third.starts} == {"cooldown"}

        # A changed template updates its schedule; a deactivated one loses it.
        changed = params.model_dump(mode="json", exclude={"version", "active"})
        changed["trigger"]["schedule"]["cron"] = "30 8 * * 1-5"
        await store.templates.save(SequenceParams.model_validate(changed))
        await store.templates.set_active("payment_reminder", False)
        final = await sync_schedules(dev_client, store, task_queue=queue, prefix=prefix)
        assert sorted((a.schedule_id, a.action) for a in final) == sorted(
            [(mine, "updated"), (shipped, "deleted")]
        )
        note = (await handle.describe()).schedule.state.note
        assert note == f"{params.name} v2: '30 8 * * 1-5' America/New_York on {queue}, {CHANGES}"
    finally:
        for schedule_id in (mine, shipped):
            with contextlib.suppress(RPCError):
                await dev_client.get_schedule_handle(schedule_id).delete()


async def test_a_deactivated_template_starts_nothing(dev_client, dev_worker, store, settings):
    params = await _scheduled_copy(store)
    prefix = f"test-{uuid.uuid4().hex[:8]}-"
    await sync_schedules(dev_client, store, task_queue=settings.task_queue, prefix=prefix)
    handle = dev_client.get_schedule_handle(schedule_id_for(params.name, prefix))
    try:
        # Deactivated after the sync: the schedule may still fire, and then does nothing.
        await store.templates.set_active(params.name, False)
        await handle.trigger()
        result = await _run(dev_client, handle, 1)
        assert (result.version, result.matched, result.starts) == (None, 0, [])
    finally:
        await sync_schedules(dev_client, store, task_queue=settings.task_queue, prefix=prefix)
        with contextlib.suppress(RPCError):
            await handle.delete()


async def test_a_scheduled_family_in_cooldown_is_told_so_by_the_rule_predictions_use(
    time_env, ts_worker, dev_client, store, settings
):
    params = await _scheduled_copy(store)  # a 30-day cooldown
    family = f"S{uuid.uuid4().hex[:8]}"
    await store.families.upsert(family, "Cooldown", email="c@example.org", timezone="UTC")
    queue = settings.task_queue
    # The family's last start ran on another Temporal server (as before a move to a new
    # cluster, or once a closed run is past its retention): only the store remembers it.
    first = await trigger(time_env.client, store, params.name, family, task_queue=queue)
    assert first.started and first.handle is not None
    # Ended by its own cancel: a termination mid-task would hold the test server's clock.
    await first.handle.signal("cancel", CancelRequest(reason="test over"))
    await first.handle.result()
    assert not await _exists(dev_client, str(first.workflow_id))

    start_one = scheduled_starter(dev_client, store, queue)
    started = await start_one(params, family, "schedule:test")
    if await _exists(dev_client, str(first.workflow_id)):  # started after all: clean up
        await dev_client.get_workflow_handle(str(first.workflow_id)).terminate("test over")
    assert (started.outcome, started.workflow_id) == ("cooldown", None)
    # Word for word a prediction's answer in the same case.
    assert re.fullmatch(
        f"no sequence: {params.name} started for family {family} on "
        r"\d{4}-\d\d-\d\d, within its 30-day cooldown",
        started.message,
    ), started.message


def _cli(*args: str) -> tuple[int, str]:
    from typer.testing import CliRunner

    from starter.cli import app

    result = CliRunner().invoke(app, list(args))
    assert "Traceback" not in result.output
    return result.exit_code, result.output.strip()


async def test_schedules_sync_and_list_commands(dev_server, store, settings, tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'store.db'}")
    monkeypatch.setenv("TEMPORAL_ADDRESS", dev_server.address)
    monkeypatch.setenv("TEMPORAL_TASK_QUEUE", settings.task_queue)
    shipped = "followthrough-schedule-payment_reminder"
    try:
        code, output = await asyncio.to_thread(_cli, "schedules", "sync")
        assert code == 0 and output.startswith(f"created   {shipped}  payment_reminder v1:")
        code, output = await asyncio.to_thread(_cli, "schedules", "list")
        first, second = output.splitlines()
        assert code == 0 and first.startswith(f"{shipped}  active  next ")
        # The next run in the template's own time zone: a Monday, 09:00 New York time.
        assert " 09:00 E" in first and first.endswith("last never  runs 0")
        assert second.strip().startswith("payment_reminder v1: '0 9 * * 1' America/New_York")
    finally:
        await store.templates.set_active("payment_reminder", False)
        code, output = await asyncio.to_thread(_cli, "schedules", "sync")
        assert (code, output) == (0, f"deleted   {shipped}")
