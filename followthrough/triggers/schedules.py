"""Schedule triggers: one Temporal Schedule per active `trigger.type: schedule` template.

`sync_schedules` makes the server's schedules match the store: it creates a schedule for a
new schedule template, updates one whose template changed (a new version, cron, time zone or
task queue), and deletes one whose template was deactivated or no longer runs on a schedule.
Each schedule starts `ScheduledTrigger`, which starts the sequence of every family the
template's filter matches at that moment (see `workflows/scheduled.py`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleState,
    ScheduleUpdate,
    ScheduleUpdateInput,
)
from temporalio.service import RPCError, RPCStatusCode

from activities.schedules import StartOne
from contracts import SequenceParams
from contracts.schedules import ScheduledRun, StartedSequence
from followthrough.triggers.pipeline import StartRequest, start_intervention
from store import Store
from workflows.changes import LEVEL

SCHEDULE_PREFIX = "followthrough-schedule-"
DISPATCHER = "ScheduledTrigger"


def schedule_id_for(template: str, prefix: str = SCHEDULE_PREFIX) -> str:
    """The schedule of one template; like workflow ids, it holds no PII."""
    return f"{prefix}{template}"


def is_scheduled(params: SequenceParams) -> bool:
    """Whether the template should have a schedule on the server right now."""
    return (
        params.active and params.trigger.type == "schedule" and params.trigger.schedule is not None
    )


def schedule_note(params: SequenceParams, task_queue: str) -> str:
    """What the schedule runs, readable in the Web UI; a different note means an update.

    It names the workflow changes its runs start with, so a deploy that adds one (or takes
    one back) rewrites the schedule: runs never carry a level their workers do not know."""
    spec = params.trigger.schedule
    assert spec is not None
    where = f"'{spec.cron}' {spec.timezone} on {task_queue}"
    return f"{params.name} v{params.version}: {where}, workflow changes {LEVEL}"


def schedule_for(params: SequenceParams, task_queue: str, schedule_id: str) -> Schedule:
    """The Temporal Schedule of a schedule template: its cron, in its time zone."""
    spec = params.trigger.schedule
    assert spec is not None
    return Schedule(
        action=ScheduleActionStartWorkflow(
            DISPATCHER,
            ScheduledRun(template=params.name, schedule_id=schedule_id, changes=LEVEL),
            # The server appends the scheduled time, so every run has its own id.
            id=f"scheduled-{params.name}",
            task_queue=task_queue,
            static_summary=f"Scheduled run of {params.name}",
        ),
        spec=ScheduleSpec(cron_expressions=[spec.cron], time_zone_name=spec.timezone),
        # A run still starting sequences when the next is due makes the next one redundant.
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
        state=ScheduleState(note=schedule_note(params, task_queue)),
    )


@dataclass(frozen=True)
class SyncAction:
    schedule_id: str
    action: str  # created, updated, unchanged, deleted
    note: str = ""


async def sync_schedules(
    client: Client, store: Store, *, task_queue: str, prefix: str = SCHEDULE_PREFIX
) -> list[SyncAction]:
    """Create, update and delete schedules so they match the active schedule templates."""
    latest = await store.templates.list_latest()
    wanted = {schedule_id_for(p.name, prefix): p for p in latest if is_scheduled(p)}
    actions = []
    for schedule_id, params in sorted(wanted.items()):
        schedule = schedule_for(params, task_queue, schedule_id)
        handle = client.get_schedule_handle(schedule_id)
        try:
            current = await handle.describe()
        except RPCError as err:
            if err.status != RPCStatusCode.NOT_FOUND:
                raise
            await client.create_schedule(schedule_id, schedule)
            actions.append(SyncAction(schedule_id, "created", schedule.state.note or ""))
            continue
        if current.schedule.state.note == schedule.state.note:
            actions.append(SyncAction(schedule_id, "unchanged", schedule.state.note or ""))
            continue
        # A pause set by an operator (Web UI, CLI) survives a template change.
        schedule.state.paused = current.schedule.state.paused

        def replace(_: ScheduleUpdateInput, schedule: Schedule = schedule) -> ScheduleUpdate:
            return ScheduleUpdate(schedule=schedule)

        await handle.update(replace)
        actions.append(SyncAction(schedule_id, "updated", schedule.state.note or ""))
    known = await _known_ids(client, store, prefix)
    for schedule_id in sorted(known - wanted.keys()):
        try:
            await client.get_schedule_handle(schedule_id).delete()
        except RPCError as err:
            if err.status != RPCStatusCode.NOT_FOUND:
                raise
            continue
        actions.append(SyncAction(schedule_id, "deleted"))
    return actions


async def _known_ids(client: Client, store: Store, prefix: str) -> set[str]:
    # The server's list is eventually consistent, so the store's schedule templates are
    # added: a schedule created a moment ago is still found and deleted.
    ids = {
        schedule_id_for(p.name, prefix)
        for p in await store.templates.list_latest()
        if p.trigger.type == "schedule"
    }
    async for listed in await client.list_schedules():
        if listed.id.startswith(prefix):
            ids.add(listed.id)
    return ids


@dataclass(frozen=True)
class ScheduleRow:
    schedule_id: str
    note: str
    paused: bool
    next_runs: list[datetime]
    last_run: datetime | None
    runs: int


async def list_schedules(
    client: Client, store: Store, prefix: str = SCHEDULE_PREFIX
) -> list[ScheduleRow]:
    """Every Follow-through schedule on the server, with its next and last runs."""
    rows = []
    for schedule_id in sorted(await _known_ids(client, store, prefix)):
        try:
            described = await client.get_schedule_handle(schedule_id).describe()
        except RPCError as err:
            if err.status == RPCStatusCode.NOT_FOUND:
                continue
            raise
        info = described.info
        recent = info.recent_actions
        rows.append(
            ScheduleRow(
                schedule_id=schedule_id,
                note=described.schedule.state.note or "",
                paused=described.schedule.state.paused,
                next_runs=list(info.next_action_times),
                last_run=recent[-1].started_at if recent else None,
                runs=info.num_actions,
            )
        )
    return rows


def scheduled_starter(client: Client, store: Store, task_queue: str) -> StartOne:
    """The start a scheduled run makes for one family: through the start pipeline, so every
    rule applies as for any other trigger; a refusal is reported, never raised."""

    async def start_one(
        params: SequenceParams, family_id: str, triggered_by: str
    ) -> StartedSequence:
        request = StartRequest(params, family_id, triggered_by)
        outcome = await start_intervention(client, request, task_queue=task_queue, store=store)
        return StartedSequence(
            family_id=family_id,
            workflow_id=outcome.workflow_id,
            outcome=outcome.status,
            message=outcome.message,
        )

    return start_one
