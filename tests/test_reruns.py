"""A family's second sequence under the same workflow id, on the real dev server.

The first run finished (its call task is still open), the second waits at its gate: `stats`
and the inbox answer within seconds, and what they say about each run is that run's own."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path

from contracts import InterventionResult, State
from followthrough import operations
from followthrough.reporting.stats import collect
from followthrough.web.inbox import create_app, gather
from tests.followthrough.web.test_inbox import account, inbox_client, sign_in, start_quick, until

PROMPT = 10.0  # seconds: "in seconds", with room for a loaded machine


async def test_stats_and_inbox_answer_while_a_newer_run_is_open(
    dev_server, dev_client, dev_worker, store, settings, tmp_path: Path
):
    first = await start_quick(dev_client, store, settings, "F1")

    async def at_gate() -> bool:
        return (await operations.status(dev_client, first)).pending_approval is not None

    await until(at_gate, "the first run's approval gate")
    await operations.decide_now(dev_client, first, "approve", "sarah", "coordinator")
    handle = dev_client.get_workflow_handle(first, result_type=InterventionResult)
    assert (await handle.result()).outcome == "call scheduled"
    first_run = (await handle.describe()).run_id

    again = await start_quick(dev_client, store, settings, "F1")  # the same id, a new run
    assert again == first
    await until(at_gate, "the second run's approval gate")
    second_run = (await dev_client.get_workflow_handle(again).describe()).run_id
    assert second_run != first_run

    scope = f"TaskQueue = '{settings.task_queue}'"
    report = await asyncio.wait_for(collect(dev_client, store, scope=scope), PROMPT)
    (template,) = report["templates"]
    assert template["sequences"] == 2 and template["lateness_p95_s"] is not None

    view = await asyncio.wait_for(gather(dev_client, store, settings), PROMPT)
    (approval,) = [i for i in view.approvals if i.workflow_id == again]
    assert approval.status is not None and approval.status.state == State.AWAITING_APPROVAL
    # The first run's call task is still open: its row shows the first run, not the second.
    (task,) = [t for t in view.tasks if t.workflow_id == first]
    assert task.status is not None and task.status.state == State.COMPLETED
    assert task.status.outcome == "call scheduled"

    await account(store, "sarah", "coordinator")
    app = create_app(dev_client, store, settings, secret=b"k" * 32)
    async with inbox_client(app) as http:
        await sign_in(http, "sarah")
        page = await asyncio.wait_for(http.get("/"), PROMPT)
    assert page.status_code == 200 and again in page.text

    # The command itself, as an operator runs it, against the same server and store.
    env = {
        **os.environ,
        "TEMPORAL_ADDRESS": dev_server.address,
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'store.db'}",
    }
    began = time.monotonic()
    command = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).parent / "followthrough"),
        "stats",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(command.communicate(), 30.0)
    assert command.returncode == 0, err.decode()
    assert time.monotonic() - began < 30.0
    assert "demo_quick_intervention" in out.decode()
