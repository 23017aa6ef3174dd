"""Hand-typed signals from the real `temporal` CLI, on the real dev server.

A malformed approval (no role) is refused inside the workflow: the CLI succeeds as it always
does, but `followthrough status` and the audit trail say what was refused and when, and the
gate goes on waiting for a decision that is right."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from contracts import InterventionResult, State
from followthrough import operations
from followthrough.platform.devserver import find_binary
from starter.cli_reading import status_lines
from tests.followthrough.web.test_inbox import start_quick, until


async def temporal_signal(address: str, workflow_id: str, name: str, value: Any) -> str:
    """`temporal workflow signal --input JSON`, as a person types it."""
    command = await asyncio.create_subprocess_exec(
        find_binary("temporal"),
        "workflow",
        "signal",
        "--address",
        address,
        "--workflow-id",
        workflow_id,
        "--name",
        name,
        "--input",
        json.dumps(value),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(command.communicate(), 30.0)
    assert command.returncode == 0, out.decode()
    return out.decode()


async def test_a_malformed_approval_from_the_temporal_cli_is_refused_and_shown(
    dev_server, dev_client, dev_worker, store, settings
):
    workflow_id = await start_quick(dev_client, store, settings, "F1")

    async def at_gate() -> bool:
        return (await operations.status(dev_client, workflow_id)).pending_approval is not None

    await until(at_gate, "the approval gate")
    said = await temporal_signal(dev_server.address, workflow_id, "approve", {"approver": "sarah"})
    assert "Signal workflow succeeded" in said  # the CLI cannot know; the workflow does

    async def refused() -> Any:
        st = await operations.status(dev_client, workflow_id)
        return st if st.rejected_signals else None

    st = await until(refused, "the refusal in the status")
    assert st.state == State.AWAITING_APPROVAL  # the gate keeps waiting
    (rejected,) = st.rejected_signals
    assert rejected.describe() == "rejected approve from sarah: role is required"
    line = f"  rejected approve from sarah: role is required (at {rejected.at.isoformat()})"
    assert line in status_lines(st)

    async def audited() -> Any:
        rows = await store.steps.for_workflow(workflow_id)
        return [r for r in rows if r.kind == "signal"]

    (row,) = await until(audited, "the refusal in the audit trail")
    assert row.outcome == "rejected approve from sarah: role is required"
    assert row.run_id == (await dev_client.get_workflow_handle(workflow_id).describe()).run_id

    # The same signal, right this time, opens the gate.
    await temporal_signal(
        dev_server.address, workflow_id, "approve", {"approver": "sarah", "role": "coordinator"}
    )
    handle = dev_client.get_workflow_handle(workflow_id, result_type=InterventionResult)
    result = await asyncio.wait_for(handle.result(), 30.0)
    assert result.outcome == "call scheduled"
