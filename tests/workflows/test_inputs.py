"""What people send a running sequence: the `decide` update (accepted or refused at once),
the plain signals, and the `status` query."""

from __future__ import annotations

from datetime import timedelta

import pytest
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from contracts import (
    DecideRequest,
    Decision,
    DecisionReceipt,
    State,
    Verdict,
)
from followthrough import operations
from tests.workflows.test_sequences import COORDINATOR, start, status

GATE = timedelta(days=5, hours=1)  # email, 3 days' wait, SMS, 2 days: the call's gate


async def test_update_approves_the_pending_gate(time_env, store, settings, ts_worker):
    handle = await start(time_env, store, settings)
    await time_env.sleep(GATE)
    assert (await status(handle)).state == State.AWAITING_APPROVAL

    receipt = await handle.execute_update(
        "decide",
        DecideRequest(verdict=Verdict.APPROVE, decision=COORDINATOR),
        result_type=DecisionReceipt,
    )
    assert receipt.step_id == "call" and receipt.verdict == Verdict.APPROVE
    result = await handle.result()
    assert result.outcome == "call scheduled"
    assert [t.kind for t in await store.tasks.for_workflow(handle.id)] == ["call"]


async def test_update_refuses_a_role_not_allowed(time_env, store, settings, ts_worker):
    handle = await start(time_env, store, settings)
    await time_env.sleep(GATE)
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await handle.execute_update(
            "decide",
            DecideRequest(verdict=Verdict.APPROVE, decision=Decision(approver="p", role="parent")),
        )
    cause = refused.value.cause
    assert isinstance(cause, ApplicationError) and cause.type == "DecisionRefused"
    assert cause.message.startswith("role: 'parent' may not decide")
    st = await status(handle)
    # Refused in the validator: nothing reached the workflow, the gate is still waiting.
    assert st.state == State.AWAITING_APPROVAL and st.decisions == []

    # Through the operations layer the refusal is one line naming the field.
    with pytest.raises(operations.OperationError, match=r"^refused: role: 'parent'"):
        await operations.decide_now(time_env.client, handle.id, "approve", "p", "parent")
    await operations.decide_now(time_env.client, handle.id, "reject", "mike", "director")
    result = await handle.result()
    assert result.outcome == "call not approved"


async def test_update_refuses_when_not_awaiting_approval(time_env, store, settings, ts_worker):
    handle = await start(time_env, store, settings)
    await time_env.sleep(timedelta(hours=1))
    with pytest.raises(operations.OperationError) as refused:
        await operations.decide_now(time_env.client, handle.id, "approve", "sarah", "coordinator")
    assert str(refused.value) == "refused: state: the sequence is scheduled, not awaiting approval"
    # The signal path still keeps an early approval for the gate.
    await operations.decide(time_env.client, handle.id, "approve", "sarah", "coordinator")
    result = await handle.result()
    assert result.outcome == "call scheduled"


async def test_second_update_for_one_gate_is_refused(time_env, store, settings, ts_worker):
    """Two coordinators click at once: the second hears the gate is already decided."""
    handle = await start(time_env, store, settings)
    await time_env.sleep(GATE)
    await operations.decide_now(time_env.client, handle.id, "approve", "sarah", "coordinator")
    with pytest.raises(operations.OperationError, match=r"refused: state|already finished"):
        await operations.decide_now(time_env.client, handle.id, "reject", "mike", "director")
    assert (await handle.result()).outcome == "call scheduled"
