"""`--json` on the reading commands: one JSON document on stdout, with the keys the README
lists, for a script to rely on; the text stays the default."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from typer.testing import CliRunner

from contracts import State
from followthrough import operations
from followthrough.triggers import start as triggers
from starter.cli import app
from tests.test_end_to_end import quick_template, until_state

# The keys the README documents, per command.
SEQUENCE_ROW = {"workflow_id", "state", "template", "family_id", "status", "started"}
TASK_ROW = {"id", "kind", "family_id", "assign_to", "reason", "workflow_id", "created_at"}
AUDIT_ROW = {
    "at",
    "workflow_id",
    "template",
    "template_version",
    "step_id",
    "kind",
    "channel",
    "outcome",
    "attempts",
    "error_type",
    "provider_message_id",
    "message_status",
    "prediction_id",
}
TEMPLATE_ROW = {
    "name",
    "version",
    "active",
    "workflow",
    "owner",
    "running",
    "max_active",
    "versions",
    "rollout",
}
QUARANTINE_ROW = {"workflow_id", "template", "state", "started", "step", "last_error"}


def document(*args: str) -> Any:
    result = CliRunner().invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)  # the whole of stdout is one document


async def test_every_reading_command_prints_one_json_document(
    env, dev_server, dev_client, dev_worker, store, settings, monkeypatch
):
    monkeypatch.setenv("TEMPORAL_ADDRESS", dev_server.address)
    monkeypatch.setenv("TEMPORAL_TASK_QUEUE", settings.task_queue)
    await quick_template(store)
    outcome = await triggers.trigger(
        dev_client, store, "demo_quick_intervention", "F1", task_queue=settings.task_queue
    )
    workflow_id = outcome.workflow_id
    assert workflow_id is not None
    await until_state(dev_client, workflow_id, State.AWAITING_APPROVAL)
    await operations.decide(dev_client, workflow_id, "approve", "sarah", "coordinator")
    await until_state(dev_client, workflow_id, State.COMPLETED)

    async def read(*args: str) -> Any:
        return await asyncio.to_thread(document, *args)

    for _ in range(50):  # visibility catches up a moment after the state
        listed = await read("list", "--state", "completed")
        if any(row["workflow_id"] == workflow_id for row in listed["sequences"]):
            break
        await asyncio.sleep(0.1)
    row = next(row for row in listed["sequences"] if row["workflow_id"] == workflow_id)
    assert set(row) == SEQUENCE_ROW
    assert (row["state"], row["template"], row["family_id"]) == (
        "completed",
        "demo_quick_intervention",
        "F1",
    )

    status = await read("status", workflow_id)
    assert status["state"] == "completed" and status["outcome"] == "call scheduled"

    tasks = await read("tasks")
    assert set(tasks) == {"tasks"}
    task = next(t for t in tasks["tasks"] if t["workflow_id"] == workflow_id)
    assert set(task) == TASK_ROW and task["kind"] == "call"
    today = await read("tasks", "--today")
    assert set(today) == {"timezone", "day", "calls"}

    audit = await read("audit", "--family", "F1")
    assert set(audit) == {"family_id", "opted_out", "steps"}
    steps = [s for s in audit["steps"] if s["workflow_id"] == workflow_id]
    assert steps and all(set(s) == AUDIT_ROW for s in steps)
    assert [s["step_id"] for s in steps][:1] == ["first_email"]

    quarantine = await read("quarantine")
    assert set(quarantine) == {"sequences"}
    assert all(set(s) == QUARANTINE_ROW for s in quarantine["sequences"])

    templates = await read("templates", "list")
    assert set(templates) == {"templates", "running_counted"} and templates["running_counted"]
    quick = next(t for t in templates["templates"] if t["name"] == "demo_quick_intervention")
    assert set(quick) == TEMPLATE_ROW
    assert [v["version"] for v in quick["versions"]] == [1, 2]

    stats = await read("stats")
    assert {"by_execution_status", "by_state", "templates", "responses", "slo"} <= set(stats)
