"""`followthrough`: the command-line client. Parse, validate, call the application core.

Every command lives in a `starter/cli_*.py` module on a Typer app of its own; this file is
the one place where they are added to the `followthrough` command. No module registers
itself by being imported.
"""

from __future__ import annotations

import sys

import typer

from starter import (
    cli_data,
    cli_governance,
    cli_impact,
    cli_ops,
    cli_reading,
    cli_schedules,
    cli_serve,
    cli_signals,
    cli_templates,
    cli_triggers,
    cli_users,
)

app = typer.Typer(help="Follow-through: turn predictions into action.", no_args_is_help=True)

# Top-level commands, each module's app merged in without a group name of its own.
app.add_typer(cli_serve.serve_app)  # dev, worker, migrate, demo, web, receiver, codec-server
app.add_typer(cli_triggers.triggers_app)  # predict, trigger, event
app.add_typer(cli_signals.signals_app)  # respond, approve, reject, resume, skip, cancel
app.add_typer(cli_reading.reading_app)  # status, list, tasks, stats
app.add_typer(cli_data.data_app)  # audit (and families-import, the older name)
app.add_typer(cli_ops.ops_app)  # health, quarantine
app.add_typer(cli_impact.impact_app)  # impact, calibration, impact-demo

# `followthrough templates ...`: files and versions, governance, failures.
templates_app = typer.Typer(help="Sequence templates: validate, load, list.", no_args_is_help=True)
templates_app.add_typer(cli_templates.templates_app)  # validate, load, show, diff, ...
templates_app.add_typer(cli_governance.governance_app)  # list, rollout, promote, rollback
templates_app.add_typer(cli_ops.ops_templates_app)  # resume, suspended
app.add_typer(templates_app, name="templates")

app.add_typer(cli_data.families_app, name="families")  # import, opt-out
app.add_typer(cli_data.predictions_app, name="predictions")  # import
app.add_typer(cli_schedules.schedules_app, name="schedules")  # sync, list
app.add_typer(cli_users.users_app, name="users")  # add, list
app.add_typer(cli_impact.outcomes_app, name="outcomes")  # import, record


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
