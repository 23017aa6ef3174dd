"""Impact: `outcomes import|record`, `impact`, `calibration` and `impact-demo`.

The reporting modules load statsmodels, which takes a moment: they are imported by the
commands that use them, not when the CLI starts.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated

import typer

from starter.cli_runtime import dump, fail, open_store, require_file, run

impact_app = typer.Typer()
outcomes_app = typer.Typer(help="Outcomes: what happened to each family.", no_args_is_help=True)


@outcomes_app.command("import")
def outcomes_import(path: Path) -> None:
    """Import outcomes from CSV: family_id,outcome,at (at: ISO date or time, UTC by default).

    Bad rows are named by line and the good ones kept; a row recorded before is not counted
    twice.
    """
    from followthrough.outcomes import import_outcomes

    require_file(path)

    async def work() -> None:
        async with open_store(migrated=True) as store:
            report = await import_outcomes(store, path)
        for problem in report.problems:
            typer.echo(f"{path}: {problem}", err=True)
        typer.echo(report.summary())

    run(work)


@outcomes_app.command("record")
def outcomes_record(
    family: Annotated[str, typer.Option(help="Family id.")],
    outcome: Annotated[str, typer.Option(help="What happened, e.g. withdrew or retained.")],
    at: Annotated[str | None, typer.Option(help="When (ISO date or time); default now.")] = None,
) -> None:
    """Record one family's outcome, and say which start or holdout decision it counts for."""
    from followthrough.outcomes import record_outcome

    async def work() -> None:
        async with open_store(migrated=True) as store:
            typer.echo(await record_outcome(store, family, outcome, at))

    run(work)


def _since(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        return datetime.combine(date.fromisoformat(text), datetime.min.time(), UTC)
    except ValueError:
        fail(f"since: {text!r} is not a date, e.g. 2026-09-01")
        raise  # not reached: fail exits


@impact_app.command("impact")
def impact_command(
    template: str,
    version: Annotated[int | None, typer.Option(help="Only this version.")] = None,
    since: Annotated[str | None, typer.Option(help="Only decisions from this date.")] = None,
    effect: Annotated[
        float, typer.Option(help="The lift in pp a too-small sample is sized for.")
    ] = 5.0,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Treated against held-out families: success rates, lift in pp with its 95% interval."""
    from followthrough.reporting.impact import impact

    when = _since(since)
    if effect <= 0 or effect >= 50:
        fail(f"effect: {effect} must be between 0 and 50 percentage points")

    async def work() -> None:
        async with open_store(migrated=True) as store:
            report = await impact(store, template, version=version, since=when, effect_pp=effect)
        typer.echo(dump(report.as_dict()) if as_json else "\n".join(report.lines()))

    run(work)


@impact_app.command("calibration")
def calibration_command(
    model_version: Annotated[str | None, typer.Option(help="Only this model version.")] = None,
    event: Annotated[
        str | None,
        typer.Option(help="The predicted outcome; default: any outcome not counted a success."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    as_csv: Annotated[bool, typer.Option("--csv")] = False,
) -> None:
    """Predicted probability by tenth against the observed rate, among untreated families."""
    from followthrough.reporting.calibration import as_csv as to_csv
    from followthrough.reporting.calibration import calibration

    if as_json and as_csv:
        fail("--json, --csv: choose one")

    async def work() -> None:
        async with open_store(migrated=True) as store:
            models = await calibration(store, model_version=model_version, event=event)
        if as_json:
            typer.echo(dump({"models": [m.as_dict() for m in models]}))
        elif as_csv:
            typer.echo(to_csv(models), nl=False)
        elif not models:
            typer.echo("no untreated predictions yet (below threshold or held out)")
        else:
            typer.echo("\n".join(line for m in models for line in m.lines()))

    run(work)


@impact_app.command("impact-demo")
def impact_demo_command(
    outcomes: Annotated[
        Path | None, typer.Option(help="Also write the demo's outcomes CSV here.")
    ] = None,
) -> None:
    """Load the impact demo's history: 4,000 families, their predictions and decisions."""
    from followthrough import impact_demo

    history = impact_demo.population()

    async def work() -> None:
        async with open_store(migrated=True) as store:
            typer.echo(await impact_demo.load(store, history))
        if outcomes is not None:
            outcomes.write_text(history.outcomes_csv(), encoding="utf-8")
            typer.echo(f"outcomes written to {outcomes}")
        shipped = impact_demo.DEMO_DIR / "outcomes.csv"
        typer.echo("next:")
        typer.echo(f"  followthrough outcomes import {outcomes or shipped}")
        typer.echo(f"  followthrough impact {impact_demo.TEMPLATE}")
        typer.echo("  followthrough calibration")

    run(work)
