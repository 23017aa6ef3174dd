"""Reading sequences and work: `status`, `list`, `tasks` and `stats`."""

from __future__ import annotations

from typing import Annotated

import typer

from contracts import InterventionStatus
from followthrough import operations
from starter.cli_runtime import dump, fail, open_store, run, session, temporal

reading_app = typer.Typer()


@reading_app.command("status")
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
        for line in status_lines(st):
            typer.echo(line)

    run(work)


def status_lines(st: InterventionStatus) -> list[str]:
    """The `status` command's text: the header, then one line per step and response."""
    lines = [
        f"{st.workflow_id}  {st.template} v{st.template_version}  family {st.family_id}",
        f"state: {st.state.value}   current step: {st.current_step or '-'}",
    ]
    if st.rollout:
        lines.append(f"version: {st.rollout}")
    if st.next_action_at:
        lines.append(f"next action: {st.next_action_at.isoformat()}")
    if st.pending_approval:
        roles = ", ".join(st.pending_approval.roles)
        lines.append(f"awaiting approval: {st.pending_approval.reason} (roles: {roles})")
    for step in st.steps:
        line = f"  {step.step_id:<28} {step.status.value:<11} attempts={step.attempts}"
        if step.result:
            line += f"  {step.result}"
        if step.error:
            line += f"  error: {step.error}"
        if step.due_reason and step.due_at:
            line += f"  [due {step.due_at:%Y-%m-%d %H:%M} UTC: {step.due_reason}]"
        lines.append(line)
    for response in st.responses:
        lines.append(f"  response via {response.channel.value} at {response.at.isoformat()}")
    earlier = st.signals_rejected - len(st.rejected_signals)
    if earlier > 0:
        lines.append(f"  ({earlier} earlier rejected signals not shown)")
    for rejected in st.rejected_signals:
        lines.append(f"  {rejected.describe()} (at {rejected.at.isoformat()})")
    if st.outcome:
        lines.append(f"outcome: {st.outcome}")
    return lines


@reading_app.command("list")
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


@reading_app.command()
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
        async with open_store() as store:
            rows = await store.tasks.list_open("call" if today else kind)
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


@reading_app.command()
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
