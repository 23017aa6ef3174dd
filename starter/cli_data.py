"""Data in and out: `families import|opt-out` (or `families-import`), `predictions import`,
`audit`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from contracts import channels
from followthrough.operations import OperationError
from followthrough.triggers import imports
from starter.cli_runtime import AS_JSON, dump, open_store, require_file, run, session
from starter.progress import Progress
from store import Store, migrate

data_app = typer.Typer()
families_app = typer.Typer(help="Families: import, opt-outs.", no_args_is_help=True)
predictions_app = typer.Typer(help="Predictions: import.", no_args_is_help=True)


@families_app.command("import")
def families_import(path: Path) -> None:
    """Import families from CSV: family_id,name,email,phone,timezone[,preferred_channel,...].

    Every row is checked on its own; bad rows are reported with their line number and the
    good ones are kept. An `opted_out` column (e.g. `sms` or `email;sms`) adds opt-outs.
    `whatsapp` (a number) and `whatsapp_opt_in` (yes/no) let sequences send on WhatsApp.
    """
    require_file(path)

    async def work() -> None:
        async with open_store(migrated=True) as store:
            report = await imports.import_families(store, path, on_row=Progress("families"))
        for problem in report.problems:
            typer.echo(f"{path}: {problem}", err=True)
        typer.echo(f"{report.imported} families imported, {len(report.problems)} rows rejected")

    run(work)


@families_app.command("opt-out")
def families_opt_out(
    family_id: Annotated[str, typer.Argument(help="Family id.")],
    channel: Annotated[str, typer.Option(help="A channel: email, sms, call, ...")],
) -> None:
    """Never contact the family on this channel again; sequences fall back or escalate."""

    async def work() -> None:
        async with open_store(migrated=True) as store:
            await opt_out(store, family_id, channel)
        typer.echo(f"family {family_id} opted out of {channel}")

    run(work)


async def opt_out(store: Store, family_id: str, channel: str) -> None:
    """Record an opt-out; the message names the bad field when the input is wrong."""
    entry = channels.find(channel)
    if entry is None:
        choices = ", ".join(channels.names())
        raise OperationError(f"channel: {channel!r} is not one of {choices}")
    try:
        await store.families.opt_out(family_id, entry.opt_out_key)
    except LookupError as err:
        raise OperationError(f"family: no family with id {family_id!r}") from err


@predictions_app.command("import")
def predictions_import(
    path: Path,
    every_row: Annotated[
        bool, typer.Option("--every-row", help="Also print what each row did.")
    ] = False,
) -> None:
    """Import predictions from CSV: family_id,probability,confidence[,window_days,model_version].

    Each row goes through the template rules like `predict`. Progress goes to stderr; then
    the rejected rows and a line per kind of refused start (stderr) and the summary, which
    counts started, already running, below threshold and rejected rows (stdout).
    """
    require_file(path)

    async def work() -> None:
        async with session() as (settings, client, store):
            await migrate(settings.database_url)
            report = await imports.import_predictions(
                client, store, path, task_queue=settings.task_queue, on_row=Progress("predictions")
            )
        if every_row:
            for line in report.lines:
                typer.echo(line)
        else:  # a summary plus the problems, not a line per row
            for problem in [*report.problems, *report.refusal_lines()]:
                typer.echo(f"{path}: {problem.removeprefix(f'{path}: ')}", err=True)
        typer.echo(report.summary())

    run(work)


@data_app.command("families-import", hidden=True)
def families_import_command(path: Path) -> None:
    """The older name of `families import`, kept for scripts that use it."""
    families_import(path)


@data_app.command()
def audit(
    family: Annotated[str, typer.Option(help="Family id.")],
    as_json: Annotated[bool, AS_JSON] = False,
) -> None:
    """A family's whole history across sequences, from the audit trail (no message content)."""
    from followthrough.reporting.audit import family_audit

    async def work() -> None:
        async with open_store(migrated=True) as store:
            report = await family_audit(store, family)  # AuditError: one line, exit 1
        if as_json:
            document = {"family_id": family, "opted_out": report.opted_out, "steps": report.steps}
            typer.echo(dump(document))
            return
        opted = ", ".join(report.opted_out) or "none"
        typer.echo(f"family {report.family_id}   opted out: {opted}")
        if not report.lines:
            typer.echo("no steps recorded")
        for line in report.lines:
            typer.echo(line)

    run(work)
