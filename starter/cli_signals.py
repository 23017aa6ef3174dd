"""Talking to a running sequence: `respond`, `approve|reject`, `resume|skip` and `cancel`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

import typer

from followthrough import operations
from starter.cli_runtime import run, temporal

signals_app = typer.Typer()


@signals_app.command()
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
            bool,
            typer.Option(
                "--signal", help="Send the plain signal, then read what the sequence did with it."
            ),
        ] = False,
    ) -> None:
        async def work() -> None:
            async with temporal() as client:
                if signal:
                    # No answer comes back to a signal: the run's status says what it did.
                    did = await operations.decide(client, workflow_id, verdict, by, role, note)
                    typer.echo(f"{verdict} sent to {workflow_id}: {did}")
                    return
                # The update answers at once: a refused decision exits 1 with the reason.
                receipt = await operations.decide_now(client, workflow_id, verdict, by, role, note)
                done = "approved" if verdict == "approve" else "rejected"
                typer.echo(f"{done}: step {receipt.step_id} of {workflow_id}")

        run(work)

    command.__doc__ = f"{verdict.capitalize()} the sequence's approval gate."
    return command


signals_app.command("approve")(_decision("approve"))
signals_app.command("reject")(_decision("reject"))


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


signals_app.command("resume")(
    _escalation("resume", "After an escalation: try the failed step again.")
)
signals_app.command("skip")(_escalation("skip", "After an escalation: skip the failed step."))


@signals_app.command("cancel")
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
