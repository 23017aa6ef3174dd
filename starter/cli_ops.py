"""Operator commands for failures: `health`, `quarantine`, `templates resume|suspended`."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Annotated

import typer

from followthrough.reporting import quarantine as views
from followthrough.triggers import suspension as failures
from starter.cli_runtime import AS_JSON, dump, open_store, run, temporal

ops_app = typer.Typer()
ops_templates_app = typer.Typer()


@ops_app.command()
def health() -> None:
    """Provider circuit breakers as each worker last recorded them."""

    async def work() -> None:
        async with open_store() as store:
            rows = await views.provider_health(store)
        if not rows:
            typer.echo("no breaker has changed state: every provider is healthy")
        now = datetime.now(UTC)
        for row in rows:
            line = f"{row.provider:<12} {row.state:<10} worker {row.worker:<24}"
            line += f" failures={row.consecutive_failures}"
            if row.state == "open" and row.open_until is not None:
                line += f" retry in {max(0.0, (row.open_until - now).total_seconds()):.0f}s"
            line += f"  since {row.updated_at.isoformat(timespec='seconds')}"
            if row.last_error and row.state != "closed":
                line += f"  last error: {row.last_error}"
            typer.echo(line)

    run(work)


@ops_app.command()
def quarantine(as_json: Annotated[bool, AS_JSON] = False) -> None:
    """Paused and failed sequences with their last error, oldest first."""

    async def work() -> None:
        async with temporal() as client:
            rows = await views.quarantine(client)
        if as_json:
            typer.echo(dump({"sequences": [dataclasses.asdict(row) for row in rows]}))
            return
        if not rows:
            typer.echo("nothing in quarantine")
        for row in rows:
            started = row.started.isoformat(timespec="seconds") if row.started else "-"
            typer.echo(
                f"{row.workflow_id:<50} {row.state:<7} since {started}  "
                f"step {row.step or '-'}: {row.last_error or 'no error recorded'}"
            )

    run(work)


@ops_templates_app.command("resume")
def templates_resume(
    name: str,
    by: Annotated[str, typer.Option(help="Who lifts the suspension.")] = "operator",
) -> None:
    """Allow new starts of a template that was suspended for failing."""

    async def work() -> None:
        async with open_store() as store:
            await failures.resume_template(store, name, by)
        typer.echo(f"template {name} resumed: new sequences may start")

    run(work)


@ops_templates_app.command("suspended")
def templates_suspended() -> None:
    """Templates whose new starts are refused, and why."""

    async def work() -> None:
        async with open_store() as store:
            rows = await store.suspensions.list_suspended()
        if not rows:
            typer.echo("no template is suspended")
        for row in rows:
            typer.echo(f"{row.name:<28} since {row.suspended_at.isoformat()}  {row.reason}")

    run(work)
