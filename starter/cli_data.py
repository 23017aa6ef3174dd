"""Data in and out: `families import|opt-out`, `predictions import`, `audit`, `receiver`."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated

import typer

from contracts import Channel
from followthrough.operations import OperationError
from followthrough.platform.settings import Settings
from followthrough.triggers import imports
from starter.cli import app, fail, run, session
from store import Store, migrate

families_app = typer.Typer(help="Families: import, opt-outs.", no_args_is_help=True)
predictions_app = typer.Typer(help="Predictions: import.", no_args_is_help=True)
app.add_typer(families_app, name="families")
app.add_typer(predictions_app, name="predictions")


@asynccontextmanager
async def local_store() -> AsyncIterator[Store]:
    """The store at DATABASE_URL, migrated; for commands that need no Temporal."""
    settings = Settings.from_env()
    await migrate(settings.database_url)
    store = Store.from_url(settings.database_url)
    try:
        yield store
    finally:
        await store.close()


def _file(path: Path) -> None:
    if not path.is_file():
        fail(f"{path}: no such file")


@families_app.command("import")
def families_import(path: Path) -> None:
    """Import families from CSV: family_id,name,email,phone,timezone[,preferred_channel,...].

    Every row is checked on its own; bad rows are reported with their line number and the
    good ones are kept. An `opted_out` column (e.g. `sms` or `email;sms`) adds opt-outs.
    """
    _file(path)

    async def work() -> None:
        async with local_store() as store:
            report = await imports.import_families(store, path)
        for problem in report.problems:
            typer.echo(f"{path}: {problem}", err=True)
        typer.echo(f"{report.imported} families imported, {len(report.problems)} rows rejected")

    run(work)


@families_app.command("opt-out")
def families_opt_out(
    family_id: Annotated[str, typer.Argument(help="Family id.")],
    channel: Annotated[str, typer.Option(help="email, sms or call.")],
) -> None:
    """Never contact the family on this channel again; sequences fall back or escalate."""

    async def work() -> None:
        async with local_store() as store:
            await opt_out(store, family_id, channel)
        typer.echo(f"family {family_id} opted out of {channel}")

    run(work)


async def opt_out(store: Store, family_id: str, channel: str) -> None:
    """Record an opt-out; the message names the bad field when the input is wrong."""
    if channel not in Channel._value2member_map_:
        choices = ", ".join(c.value for c in Channel)
        raise OperationError(f"channel: {channel!r} is not one of {choices}")
    try:
        await store.families.opt_out(family_id, channel)
    except LookupError as err:
        raise OperationError(f"family: no family with id {family_id!r}") from err


@predictions_app.command("import")
def predictions_import(path: Path) -> None:
    """Import predictions from CSV: family_id,probability,confidence[,window_days,model_version].

    Each row goes through the template rules like `predict`; the summary counts started,
    already running, below threshold and rejected rows.
    """
    _file(path)

    async def work() -> None:
        async with session() as (settings, client, store):
            await migrate(settings.database_url)
            report = await imports.import_predictions(
                client, store, path, task_queue=settings.task_queue
            )
        for line in report.lines:
            typer.echo(line)
        typer.echo(report.summary())

    run(work)


@app.command()
def receiver(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port of the callback endpoint.")] = 8090,
) -> None:
    """Accept signed provider callbacks (delivered, bounced, replied, STOP) until Ctrl-C.

    The shared secret comes from RECEIVER_SECRET; providers post to /callbacks.
    """
    from followthrough.web.receiver import secret_from_env, serve

    async def work() -> None:
        secret_from_env(os.environ)  # one clear line when it is missing, before anything else
        typer.echo(f"receiver on http://{host}:{port}/callbacks")
        await serve(host, port)

    run(work)


@app.command()
def audit(family: Annotated[str, typer.Option(help="Family id.")]) -> None:
    """A family's whole history across sequences, from the audit trail (no message content)."""
    from followthrough.reporting.audit import family_audit

    async def work() -> None:
        async with local_store() as store:
            report = await family_audit(store, family)  # AuditError: one line, exit 1
        opted = ", ".join(report.opted_out) or "none"
        typer.echo(f"family {report.family_id}   opted out: {opted}")
        if not report.lines:
            typer.echo("no steps recorded")
        for line in report.lines:
            typer.echo(line)

    run(work)
