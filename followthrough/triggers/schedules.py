"""Schedule triggers: one Temporal Schedule per active `trigger.type: schedule` template.

`sync_schedules` makes the server's schedules match the store: it creates a schedule for a
new schedule template, updates one whose template changed (a new version, cron, time zone or
task queue), and deletes one whose template was deactivated or no longer runs on a schedule.
Each schedule starts `ScheduledTrigger`, which starts the sequence of every family the
template's filter matches at that moment (see `workflows/scheduled.py`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

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
    WorkflowExecutionStatus,
)
from temporalio.service import RPCError, RPCStatusCode

from activities.schedules import StartOne
from contracts import SequenceParams, workflow_id_for
from contracts.schedules import ScheduledRun, StartedSequence
from followthrough.triggers.start import TriggerError, start_sequence
from store import Store

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
    """What the schedule runs, readable in the Web UI; a different note means an update."""
    spec = params.trigger.schedule
    assert spec is not None
    return f"{params.name} v{params.version}: '{spec.cron}' {spec.timezone} on {task_queue}"


def schedule_for(params: SequenceParams, task_queue: str, schedule_id: str) -> Schedule:
    """The Temporal Schedule of a schedule template: its cron, in its time zone."""
    spec = params.trigger.schedule
    assert spec is not None
    return Schedule(
        action=ScheduleActionStartWorkflow(
            DISPATCHER,
            ScheduledRun(template=params.name, schedule_id=schedule_id),
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
    """The start a scheduled run makes for one family, with every trigger policy applied."""

    async def start_one(
        params: SequenceParams, family_id: str, triggered_by: str
    ) -> StartedSequence:
        workflow_id = workflow_id_for(params.name, family_id)
        from followthrough.triggers import suspension as failures  # builds on this module

        try:
            await failures.guard_start(client, store, params.name)
        except failures.TemplateSuspended as err:
            return StartedSequence(
                family_id=family_id, workflow_id=None, outcome="suspended", message=str(err)
            )
        last = await _last_start(client, workflow_id)
        days = params.trigger.cooldown_days
        if last is not None and days > 0 and datetime.now(UTC) - last < timedelta(days=days):
            return StartedSequence(
                family_id=family_id,
                workflow_id=workflow_id,
                outcome="cooldown",
                message=f"{workflow_id} last started {last:%Y-%m-%d}, "
                f"within its {days}-day cooldown",
            )
        try:
            outcome = await start_sequence(
                client,
                params,
                family_id,
                task_queue=task_queue,
                triggered_by=triggered_by,
                store=store,
            )
        except TriggerError as err:
            return StartedSequence(
                family_id=family_id, workflow_id=workflow_id, outcome="refused", message=str(err)
            )
        return StartedSequence(
            family_id=family_id,
            workflow_id=outcome.workflow_id,
            outcome="started" if outcome.started else "already_running",
            message=outcome.message,
        )

    return start_one


async def _last_start(client: Client, workflow_id: str) -> datetime | None:
    """When the family's last finished run of this sequence started (a running one: None)."""
    try:
        described = await client.get_workflow_handle(workflow_id).describe()
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            return None
        raise
    if described.status == WorkflowExecutionStatus.RUNNING:
        return None  # the start reports it as already running
    return described.start_time
