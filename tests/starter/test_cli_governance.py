"""`followthrough templates list|rollout|promote|rollback`: refusals before anything changes."""

from __future__ import annotations

from followthrough.platform.devserver import free_port
from tests.starter.runner import invoke_async as run


async def test_rollout_checks_its_input(env):
    code, output = await run("templates", "rollout", "x", "--version", "2", "--percent", "140")
    assert (code, output) == (1, "error: percent: must be between 0 and 100, got 140")
    code, output = await run("templates", "rollout", "nope", "--version", "2", "--percent", "10")
    assert (code, output) == (1, "error: version: 'nope' has no version 2")
    code, output = await run("templates", "promote", "high_risk_intervention")
    assert (code, output) == (
        1,
        "error: template: 'high_risk_intervention' has no rollout in progress",
    )


async def test_list_without_temporal_still_lists(env, monkeypatch):
    monkeypatch.setenv("TEMPORAL_ADDRESS", f"127.0.0.1:{free_port()}")
    code, output = await run("templates", "list")
    assert code == 0
    assert "high_risk_intervention" in output and "running ?/" in output
    assert "(running counts need Temporal at 127.0.0.1:" in output
