"""`followthrough schedules sync|list`: without a server, one line saying where it looked."""

from __future__ import annotations

from followthrough.platform.devserver import free_port
from tests.starter.runner import invoke_async as run


async def test_schedules_need_temporal(env, monkeypatch):
    monkeypatch.setenv("TEMPORAL_ADDRESS", f"127.0.0.1:{free_port()}")
    for command in ("sync", "list"):
        code, output = await run("schedules", command)
        assert code == 1 and output.startswith("error: cannot reach Temporal at 127.0.0.1:")
