"""Invoke `followthrough` in-process as a user would: exit code and output, never a traceback."""

from __future__ import annotations

import asyncio

from typer.testing import CliRunner

from starter.cli import app

runner = CliRunner()


def invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    assert "Traceback" not in result.output
    return result.exit_code, result.output.strip()


async def invoke_async(*args: str) -> tuple[int, str]:
    # The CLI runs its own event loop; keep it off the test's.
    return await asyncio.to_thread(invoke, *args)


def invoke_split(*args: str) -> tuple[int, str, str]:
    """As `invoke`, with stdout (the answer) and stderr (progress, problems) apart."""
    result = runner.invoke(app, list(args))
    assert "Traceback" not in result.output
    return result.exit_code, result.stdout, result.stderr
