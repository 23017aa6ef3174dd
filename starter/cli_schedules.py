"""`followthrough schedules sync|list`: schedule templates as Temporal Schedules."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import typer

from followthrough.triggers.schedules import list_schedules, sync_schedules
from starter.cli_runtime import run, session

schedules_app = typer.Typer(
    help="Schedule triggers: Temporal Schedules for schedule templates.", no_args_is_help=True
)


@schedules_app.command("sync")
def schedules_sync() -> None:
    """Create, update or delete schedules to match the active schedule templates."""

    async def work() -> None:
        async with session() as (settings, client, store):
            actions = await sync_schedules(client, store, task_queue=settings.task_queue)
        if not actions:
            typer.echo("no schedule templates and no schedules: nothing to do")
        for action in actions:
            typer.echo(f"{action.action:<9} {action.schedule_id}  {action.note}".rstrip())

    run(work)


@schedules_app.command("list")
def schedules_list() -> None:
    """Every schedule with its template, next run (in its time zone) and last run."""

    async def work() -> None:
        async with session() as (_, client, store):
            rows = await list_schedules(client, store)
            zones = {
                p.name: p.trigger.schedule.timezone
                for p in await store.templates.list_latest()
                if p.trigger.schedule is not None
            }
        if not rows:
            typer.echo(
                "no schedules (load a schedule template, then `followthrough schedules sync`)"
            )
        for row in rows:
            template = row.note.split(" ", 1)[0]
            zone = ZoneInfo(zones.get(template, "UTC"))
            upcoming = (
                f"{row.next_runs[0].astimezone(zone):%Y-%m-%d %H:%M %Z}" if row.next_runs else "-"
            )
            last = f"{row.last_run:%Y-%m-%d %H:%M} UTC" if row.last_run else "never"
            state = "paused" if row.paused else "active"
            typer.echo(
                f"{row.schedule_id}  {state}  next {upcoming}  last {last}  runs {row.runs}\n"
                f"    {row.note}"
            )

    run(work)
