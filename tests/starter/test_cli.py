"""`starter/cli.py`: every command is added in one place, under the name users type."""

from __future__ import annotations

import ast
from pathlib import Path

import typer

from starter.cli import app

STARTER = Path(__file__).resolve().parents[2] / "starter"

COMMANDS = {
    "dev", "worker", "migrate", "demo", "web", "receiver", "codec-server",
    "predict", "trigger", "event",
    "respond", "approve", "reject", "resume", "skip", "cancel",
    "status", "list", "tasks", "stats",
    "families-import", "audit", "health", "quarantine",
    "templates", "families", "predictions", "schedules", "users",
    "impact", "calibration", "impact-demo", "outcomes",
}  # fmt: skip
GROUPS = {
    "templates": {
        "validate", "load", "show", "diff", "activate", "deactivate", "simulate",
        "list", "rollout", "promote", "rollback", "resume", "suspended",
    },
    "families": {"import", "opt-out"},
    "predictions": {"import"},
    "schedules": {"sync", "list"},
    "users": {"add", "list"},
    "outcomes": {"import", "record"},
}  # fmt: skip


def test_every_command_keeps_its_name():
    root = typer.main.get_command(app)
    commands = root.commands  # type: ignore[attr-defined]
    assert set(commands) == COMMANDS
    for group, names in GROUPS.items():
        assert set(commands[group].commands) == names


def test_no_command_module_imports_the_cli():
    # Registration happens in cli.py alone; a module importing it back would be a circle.
    for path in STARTER.glob("cli_*.py"):
        tree = ast.parse(path.read_text())
        imported = {
            node.module
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.module
        } | {
            alias.name
            for node in ast.walk(tree)
            if isinstance(node, ast.Import)
            for alias in node.names
        }
        assert "starter.cli" not in imported, path.name
        assert "starter" not in imported or path.name == "cli.py", path.name
