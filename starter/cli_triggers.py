"""Starting sequences: `predict`, `trigger` and `event`, each through the one start pipeline."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from contracts.bounds import check_event_data
from followthrough.triggers import start as triggers
from followthrough.triggers.events import send_event
from starter.cli_runtime import fail, run, session

triggers_app = typer.Typer()


def say(outcome: triggers.TriggerOutcome) -> None:
    typer.echo(outcome.message)


@triggers_app.command()
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


@triggers_app.command("trigger")
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


@triggers_app.command("event")
def event_command(
    name: Annotated[str, typer.Argument(help="Event name, e.g. payment_missed.")],
    family: Annotated[str, typer.Option(help="Family id.")],
    data: Annotated[str, typer.Option(help="Event data as a JSON object.")] = "{}",
) -> None:
    """Start the sequence bound to an event, or give the event to the running one."""
    try:
        payload = json.loads(data)
    except json.JSONDecodeError as err:
        fail(f"data: not JSON: {err.msg}")
        return
    if not isinstance(payload, dict):
        fail("data: must be a JSON object, e.g. '{\"amount\": 40}'")
        return
    try:
        check_event_data(payload)
    except ValueError as err:
        fail(f"data: {err}")

    async def work() -> None:
        async with session() as (settings, client, store):
            outcome = await send_event(
                client, store, name, family, payload, task_queue=settings.task_queue
            )
            typer.echo(outcome.message)

    run(work)
