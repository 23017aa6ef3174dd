"""`followthrough`: the command-line client. Parse, validate, call Temporal; nothing more."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from pydantic import ValidationError
from temporalio.client import Client
from temporalio.service import RPCError

from followthrough import operations
from followthrough.platform.codec import CodecError
from followthrough.platform.connection import connect
from followthrough.platform.settings import Settings, SettingsError
from followthrough.templates import TemplateFileError, format_errors, read_template
from followthrough.triggers import start as triggers
from store import Store, migrate

T = TypeVar("T")

app = typer.Typer(help="Follow-through: turn predictions into action.", no_args_is_help=True)
templates_app = typer.Typer(help="Sequence templates: validate, load, list.", no_args_is_help=True)
app.add_typer(templates_app, name="templates")

KNOWN_ERRORS = (
    triggers.TriggerError,
    operations.OperationError,
    SettingsError,
    TemplateFileError,
    CodecError,
)


def fail(message: str) -> None:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(1)


def run(work: Callable[[], Awaitable[T]]) -> T:
    """Run a command; known problems become one clear line and exit code 1."""
    try:
        return asyncio.run(work())  # type: ignore[arg-type]
    except KNOWN_ERRORS as err:
        fail(str(err))
    except ValidationError as err:
        fail(format_errors(err))
    except RPCError as err:
        fail(f"Temporal refused the request: {err.message}")
    except (RuntimeError, ConnectionError, OSError) as err:
        text = str(err)
        if "connect" in text.lower() or isinstance(err, ConnectionError):
            settings = Settings.from_env()
            fail(f"cannot reach Temporal at {settings.temporal_address}: is it running?")
        fail(text)
    raise AssertionError("unreachable")


@asynccontextmanager
async def session() -> AsyncIterator[tuple[Settings, Client, Store]]:
    settings = Settings.from_env()
    try:
        client = await connect(settings)
    except RuntimeError as err:
        raise ConnectionError(str(err)) from err
    store = Store.from_url(settings.database_url)
    try:
        yield settings, client, store
    finally:
        await store.close()


@asynccontextmanager
async def temporal() -> AsyncIterator[Client]:
    settings = Settings.from_env()
    try:
        yield await connect(settings)
    except RuntimeError as err:
        if "connect" in str(err).lower():
            raise ConnectionError(str(err)) from err
        raise


def say(outcome: triggers.TriggerOutcome) -> None:
    typer.echo(outcome.message)


# ----------------------------------------------------------------------- running things


@app.command()
def dev(
    demo: Annotated[bool, typer.Option(help="Load the demo and trigger its sequences.")] = True,
    port: Annotated[int, typer.Option(help="Temporal frontend port.")] = 7233,
    ui_port: Annotated[int, typer.Option(help="Web UI port.")] = 8233,
    data_dir: Annotated[Path, typer.Option(help="Where SQLite files live.")] = Path(".data"),
) -> None:
    """Embedded Temporal (SQLite) + store migrations + worker (+ demo), until Ctrl-C."""
    from starter.embedded import run_embedded

    run(lambda: run_embedded(data_dir=data_dir, port=port, ui_port=ui_port, demo=demo))


@app.command()
def worker() -> None:
    """Run a worker against TEMPORAL_ADDRESS until Ctrl-C."""
    import worker as worker_module

    run(worker_module.main)


@app.command("migrate")
def migrate_command() -> None:
    """Apply the store's migrations to DATABASE_URL."""

    async def work() -> None:
        await migrate(Settings.from_env().database_url)
        typer.echo("store migrated")

    run(work)


@app.command()
def demo() -> None:
    """Load the demo families and templates and trigger the demo sequences."""
    from starter.embedded import load_demo, print_guide

    async def work() -> None:
        async with session() as (settings, client, store):
            await migrate(settings.database_url)
            started = await load_demo(client, store, settings)
            print_guide(settings, started)

    run(work)


# ----------------------------------------------------------------------- triggers


@app.command()
def predict(
    family: Annotated[str, typer.Option(help="Family id.")],
    probability: Annotated[float, typer.Option(help="Risk probability, 0..1.")],
    confidence: Annotated[float, typer.Option(help="Model confidence, 0..100.")],
    window_days: Annotated[int | None, typer.Option(help="Days until the predicted event.")] = None,
    model_version: Annotated[str, typer.Option(help="Model that made the prediction.")] = "unknown",
) -> None:
    """Record a prediction; the matching template (if any) starts a sequence."""

    async def work() -> None:
        triggers.check_prediction(probability, confidence, window_days)
        async with session() as (settings, client, store):
            say(
                await triggers.predict(
                    client,
                    store,
                    family,
                    probability,
                    confidence,
                    task_queue=settings.task_queue,
                    window_days=window_days,
                    model_version=model_version,
                )
            )

    run(work)


@app.command("trigger")
def trigger_command(
    template: Annotated[str, typer.Argument(help="Template name.")],
    family: Annotated[str, typer.Option(help="Family id.")],
) -> None:
    """Start a template's sequence for a family by hand."""

    async def work() -> None:
        async with session() as (settings, client, store):
            say(
                await triggers.trigger(
                    client, store, template, family, task_queue=settings.task_queue
                )
            )

    run(work)


# ----------------------------------------------------------------------- signals


@app.command()
def respond(
    workflow_id: str,
    channel: Annotated[str, typer.Option(help="email, sms or call.")],
    note: Annotated[str, typer.Option()] = "",
) -> None:
    """Record that the family answered."""

    async def work() -> None:
        async with temporal() as client:
            await operations.respond(client, workflow_id, channel, note)
            typer.echo(f"response recorded on {workflow_id}")

    run(work)


def _decision(verdict: str) -> Callable[..., None]:
    def command(
        workflow_id: str,
        by: Annotated[str, typer.Option(help="Who decides.")],
        role: Annotated[str, typer.Option(help="Their role, e.g. coordinator.")],
        note: Annotated[str, typer.Option()] = "",
        signal: Annotated[
            bool, typer.Option("--signal", help="Send the plain signal; no answer is awaited.")
        ] = False,
    ) -> None:
        async def work() -> None:
            async with temporal() as client:
                if signal:
                    await operations.decide(client, workflow_id, verdict, by, role, note)
                    typer.echo(f"{verdict} sent to {workflow_id}")
                    return
                # The update answers at once: a refused decision exits 1 with the reason.
                receipt = await operations.decide_now(client, workflow_id, verdict, by, role, note)
                done = "approved" if verdict == "approve" else "rejected"
                typer.echo(f"{done}: step {receipt.step_id} of {workflow_id}")

        run(work)

    command.__doc__ = f"{verdict.capitalize()} the sequence's approval gate."
    return command


app.command("approve")(_decision("approve"))
app.command("reject")(_decision("reject"))


def _escalation(verdict: str, doc: str) -> Callable[..., None]:
    def command(
        workflow_id: str,
        by: Annotated[str, typer.Option(help="Who decides.")],
        note: Annotated[str, typer.Option()] = "",
    ) -> None:
        async def work() -> None:
            async with temporal() as client:
                await operations.answer_escalation(client, workflow_id, verdict, by, note)
                typer.echo(f"{verdict} sent to {workflow_id}")

        run(work)

    command.__doc__ = doc
    return command


app.command("resume")(_escalation("resume", "After an escalation: try the failed step again."))
app.command("skip")(_escalation("skip", "After an escalation: skip the failed step."))


@app.command("cancel")
def cancel_command(
    workflow_id: str,
    reason: Annotated[str, typer.Option(help="Why it is called off.")],
    by: Annotated[str, typer.Option()] = "operator",
) -> None:
    """Call a sequence off; what it opened is undone."""

    async def work() -> None:
        async with temporal() as client:
            await operations.cancel(client, workflow_id, reason, by)
            typer.echo(f"cancel sent to {workflow_id}")

    run(work)


# ----------------------------------------------------------------------- reading


@app.command("status")
def status_command(
    workflow_id: str, as_json: Annotated[bool, typer.Option("--json")] = False
) -> None:
    """State, current step, next action and every step so far."""

    async def work() -> None:
        async with temporal() as client:
            st = await operations.status(client, workflow_id)
        if as_json:
            typer.echo(st.model_dump_json(indent=2))
            return
        typer.echo(f"{st.workflow_id}  {st.template} v{st.template_version}  family {st.family_id}")
        typer.echo(f"state: {st.state.value}   current step: {st.current_step or '-'}")
        if st.rollout:
            typer.echo(f"version: {st.rollout}")
        if st.next_action_at:
            typer.echo(f"next action: {st.next_action_at.isoformat()}")
        if st.pending_approval:
            roles = ", ".join(st.pending_approval.roles)
            typer.echo(f"awaiting approval: {st.pending_approval.reason} (roles: {roles})")
        for step in st.steps:
            line = f"  {step.step_id:<28} {step.status.value:<11} attempts={step.attempts}"
            if step.result:
                line += f"  {step.result}"
            if step.error:
                line += f"  error: {step.error}"
            if step.due_reason and step.due_at:
                line += f"  [due {step.due_at:%Y-%m-%d %H:%M} UTC: {step.due_reason}]"
            typer.echo(line)
        for response in st.responses:
            typer.echo(f"  response via {response.channel.value} at {response.at.isoformat()}")
        if st.outcome:
            typer.echo(f"outcome: {st.outcome}")

    run(work)


@app.command("list")
def list_command(
    state: Annotated[str | None, typer.Option(help="Only sequences in this state.")] = None,
) -> None:
    """Sequences known to Temporal, newest first."""

    async def work() -> None:
        async with temporal() as client:
            rows = await operations.list_sequences(client, state)
        if not rows:
            typer.echo("no sequences")
        for row in rows:
            typer.echo(
                f"{row['workflow_id']:<50} {row['state'] or '-':<18} "
                f"{row['template'] or '-':<26} {row['status']}"
            )

    run(work)


@app.command()
def tasks(
    kind: Annotated[str | None, typer.Option(help="call, task or escalation.")] = None,
    today: Annotated[
        bool, typer.Option("--today", help="Today's calls, one list per coordinator.")
    ] = False,
    timezone: Annotated[str, typer.Option(help="Whose day, with --today.")] = "UTC",
) -> None:
    """Open coordinator tasks, oldest first."""
    from workflows.timing import is_valid_timezone

    if not is_valid_timezone(timezone):
        fail(f"timezone: unknown time zone {timezone!r} (use an IANA name, e.g. Europe/Paris)")

    async def work() -> None:
        settings = Settings.from_env()
        store = Store.from_url(settings.database_url)
        try:
            rows = await store.tasks.list_open("call" if today else kind)
        finally:
            await store.close()
        if today:
            from datetime import UTC, datetime

            from followthrough.reporting import call_lists

            now = datetime.now(UTC)
            lists = call_lists.daily_call_lists(rows, now, timezone)
            typer.echo("\n".join(call_lists.render(lists, now, timezone)))
            return
        if not rows:
            typer.echo("no open tasks")
        for task in rows:
            typer.echo(
                f"#{task.id:<5} {task.kind:<10} family {task.family_id:<8} "
                f"{task.assign_to:<12} {task.reason}   ({task.workflow_id})"
            )

    run(work)


@app.command()
def stats(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable.")] = False,
    compare: Annotated[
        str | None, typer.Option(help="A template: its versions side by side instead.")
    ] = None,
) -> None:
    """Counts by state, template and version; durations; responses; failures; SLOs."""
    from followthrough.reporting import stats as stats_module

    async def work() -> None:
        async with session() as (_settings, client, store):
            if compare is not None:
                from followthrough.reporting.compare import compare as compare_versions

                result = await compare_versions(client, store, compare)
                typer.echo(dump(result.as_dict()) if as_json else "\n".join(result.lines()))
                return
            report = await stats_module.collect(client, store)
        typer.echo(dump(report) if as_json else stats_module.render(report))

    run(work)


@app.command("codec-server")
def codec_server(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port of the codec server.")] = 8081,
) -> None:
    """Decrypt payloads for the Web UI (PAYLOAD_KEYS, CODEC_SERVER_TOKEN) until Ctrl-C."""
    import os

    import uvicorn

    from followthrough.platform.codec import CodecError, codec_from_env, create_codec_app

    try:
        codec = codec_from_env()
        if codec is None:
            raise CodecError("PAYLOAD_KEYS must be set for the codec server")
        token = os.environ.get("CODEC_SERVER_TOKEN", "")
        origin = Settings.from_env().ui_url
        app_ = create_codec_app(codec, token, [origin])
    except (CodecError, SettingsError) as err:
        fail(str(err))
        return
    typer.echo(f"codec server on http://{host}:{port}/ for the Web UI at {origin}")
    uvicorn.run(app_, host=host, port=port, log_level="info")


@app.command()
def inbox(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port of the inbox page.")] = 8080,
) -> None:
    """Serve the coordinator inbox (approvals and open tasks) until Ctrl-C."""
    from followthrough.web.inbox import serve

    typer.echo(f"inbox on http://{host}:{port}/")
    run(lambda: serve(Settings.from_env(), host, port))


# ----------------------------------------------------------------------- templates


@templates_app.command("validate")
def templates_validate(path: Path) -> None:
    """Check a template file; problems are named by field."""
    _exists(path)
    try:
        params = read_template(path)
    except TemplateFileError as err:
        fail(str(err))
        return
    typer.echo(f"{path}: ok ({params.name}, workflow {params.workflow})")


@templates_app.command("load")
def templates_load(paths: list[Path]) -> None:
    """Validate and store template files; a changed template becomes the next version."""
    try:
        parsed = [read_template(p) for p in paths if _exists(p)]
    except TemplateFileError as err:
        fail(str(err))
        return

    async def work() -> None:
        settings = Settings.from_env()
        store = Store.from_url(settings.database_url)
        try:
            await migrate(settings.database_url)
            for name, version, created in await operations.load_templates(store, parsed):
                typer.echo(f"{name} v{version} {'loaded' if created else 'unchanged'}")
        finally:
            await store.close()

    run(work)


@app.command("families-import")
def families_import(path: Path) -> None:
    """Import families from CSV (family_id,name,email,phone,timezone,...)."""

    async def work() -> None:
        settings = Settings.from_env()
        store = Store.from_url(settings.database_url)
        try:
            await migrate(settings.database_url)
            count, problems = await operations.import_families(store, path)
        finally:
            await store.close()
        for problem in problems:
            typer.echo(f"{path}: {problem}", err=True)
        typer.echo(f"{count} families imported, {len(problems)} rows rejected")

    if _exists(path):
        run(work)


def _exists(path: Path) -> bool:
    if not path.is_file():
        fail(f"{path}: no such file")
    return True


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


def dump(data: Any) -> str:
    return json.dumps(data, indent=2, default=str)


# Commands that live beside this file: data in and out (families, predictions, audit,
# receiver), failure handling (health, quarantine, templates resume) and template versions
# and dry runs (templates show, diff, activate, deactivate, simulate), owners, quotas and
# rollouts (templates list, rollout, promote, rollback).
from starter import (  # noqa: E402, F401
    cli_data,
    cli_governance,
    cli_ops,
    cli_schedules,
    cli_templates,
)
