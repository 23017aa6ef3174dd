"""What people send a running sequence: the `decide` update (accepted or refused at once),
the plain signals, and the `status` query."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from contracts import (
    DecideRequest,
    Decision,
    DecisionReceipt,
    SequenceParams,
    State,
    Verdict,
)
from followthrough import operations
from followthrough.platform.settings import Settings
from followthrough.triggers.start import start_sequence
from tests.workflows.test_sequences import COORDINATOR, start, status
from workflows.inputs import REJECTIONS_KEPT

Handle = WorkflowHandle[Any, Any]

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


# ----------------------------------------------------------------- malformed signals

WRONG_INPUTS = [
    # (signal, input, the line the status shows)
    ("approve", {"approver": "sarah"}, "rejected approve from sarah: role is required"),
    ("reject", {"role": "coordinator"}, "rejected reject: approver is required"),
    ("record_response", {"channel": "fax"}, "rejected record_response: channel: Input should be"),
    ("record_bounce", {"channel": "email"}, "rejected record_bounce: step_id is required"),
    ("record_event", {"data": {"amount": 1}}, "rejected record_event: name is required"),
    ("cancel", {"by": "mike"}, "rejected cancel from mike: reason is required"),
    ("resume", {"note": "try again"}, "rejected resume: by is required"),
    ("skip", ["sarah"], "rejected skip: input: must be a JSON object"),
]


async def test_every_signal_refuses_wrong_input_and_the_gate_waits(
    time_env, store, settings, ts_worker
):
    handle = await start(time_env, store, settings)
    await time_env.sleep(GATE)
    for name, value, _ in WRONG_INPUTS:
        await handle.signal(name, value)
    await handle.signal("approve")  # no input at all
    # `temporal workflow signal --input A --input B`: two inputs to a one-input signal.
    await handle.signal("approve", args=[{"approver": "sarah"}, {"role": "coordinator"}])
    st = await status(handle)
    # Nothing failed: the sequence still waits at its gate, and says what it refused.
    assert st.state == State.AWAITING_APPROVAL and st.cancel_request is None
    lines = [r.describe() for r in st.rejected_signals]
    assert len(lines) == len(WRONG_INPUTS) + 2 == st.signals_rejected
    for line, (_, _, expected) in zip(lines, WRONG_INPUTS, strict=False):
        assert line.startswith(expected), line
    assert lines[-2] == "rejected approve: input: must be a JSON object"
    assert lines[-1] == "rejected approve from sarah: input: one JSON object expected, 2 were sent"
    assert all(r.at >= st.pending_approval.since for r in st.rejected_signals)  # type: ignore[union-attr]

    audit = [a for a in await store.steps.for_workflow(handle.id) if a.kind == "signal"]
    assert [a.outcome for a in audit] == lines
    assert {a.error_type for a in audit} == {"SignalRejected"}

    await handle.signal("approve", {"approver": "sarah", "role": "coordinator"})
    result = await handle.result()
    assert result.outcome == "call scheduled"


async def test_refusals_kept_in_the_status_are_bounded(time_env, store, settings, ts_worker):
    handle = await start(time_env, store, settings)
    for number in range(REJECTIONS_KEPT + 5):
        await handle.signal("approve", {"approver": f"p{number}"})
    st = await status(handle)
    assert st.signals_rejected == REJECTIONS_KEPT + 5
    assert len(st.rejected_signals) == REJECTIONS_KEPT
    assert st.rejected_signals[-1].sender == f"p{REJECTIONS_KEPT + 4}"
    await handle.signal("cancel", {"reason": "test over"})
    assert (await handle.result()).state == State.CANCELLED


# ----------------------------------------------------------------- the gate a decision answers

TWO_GATES: dict[str, Any] = {
    "name": "two_gates",
    "quiet_hours": None,
    "caps": {},
    "approver_roles": ["billing", "director"],
    "steps": [
        {"id": "pause", "type": "wait", "duration": "1h"},
        {"id": "billing_ok", "type": "approval", "roles": ["billing"], "timeout": "1d"},
        {"id": "director_ok", "type": "approval", "roles": ["director"], "timeout": "1d"},
        {"id": "thanks", "type": "email", "message": "Thank you, {{ first_name }}."},
    ],
}
DIRECTOR = Decision(approver="dan", role="director")
BILLING = Decision(approver="dana", role="billing")


async def two_gates(time_env: WorkflowEnvironment, settings: Settings) -> Handle:
    params = SequenceParams.model_validate(TWO_GATES)
    outcome = await start_sequence(time_env.client, params, "F1", task_queue=settings.task_queue)
    assert outcome.handle is not None, outcome.message
    return outcome.handle


async def test_a_decision_is_checked_against_the_pending_gates_roles(
    time_env, store, settings, ts_worker
):
    handle = await two_gates(time_env, settings)
    await time_env.sleep(timedelta(hours=2))
    st = await status(handle)
    assert st.pending_approval is not None and st.pending_approval.step_id == "billing_ok"
    # The template allows directors, this gate does not: refused at once, not "approved".
    with pytest.raises(operations.OperationError) as refused:
        await operations.decide_now(time_env.client, handle.id, "approve", "dan", "director")
    assert str(refused.value) == (
        "refused: role: 'director' may not decide on gate 'billing_ok' (allowed: billing)"
    )
    # The plain signal is refused in the workflow, and `decide --signal` says so.
    with pytest.raises(operations.OperationError, match="may not decide on gate 'billing_ok'"):
        await operations.decide(time_env.client, handle.id, "approve", "dan", "director")
    st = await status(handle)
    assert st.state == State.AWAITING_APPROVAL and st.queued_decisions == []
    assert st.rejected_signals[-1].describe() == (
        "rejected approve from dan: role: 'director' may not decide on gate 'billing_ok' "
        "(allowed: billing)"
    )
    said = await operations.decide(time_env.client, handle.id, "approve", "dana", "billing")
    assert said == "answers gate 'billing_ok'"
    await time_env.sleep(timedelta(hours=1))
    st = await status(handle)
    assert st.pending_approval is not None and st.pending_approval.step_id == "director_ok"
    await handle.signal("approve", DIRECTOR)
    assert (await handle.result()).state == State.COMPLETED
    steps = {s.step_id: s.result for s in (await status(handle)).steps}
    assert steps["billing_ok"] == "approved" and steps["director_ok"] == "approved"


async def test_an_early_decision_never_opens_a_later_different_gate(
    time_env, store, settings, ts_worker
):
    handle = await two_gates(time_env, settings)
    await handle.signal("approve", DIRECTOR)  # early, meant for the first gate: billing only
    await time_env.sleep(timedelta(hours=2))
    await handle.signal("approve", BILLING)
    await time_env.sleep(timedelta(hours=1))
    st = await status(handle)
    # The director's early approval was refused at the billing gate, not kept for the next.
    assert st.pending_approval is not None and st.pending_approval.step_id == "director_ok"
    assert st.rejected_signals[0].describe() == (
        "rejected approve from dan: role: 'director' may not decide on gate 'billing_ok' "
        "(allowed: billing)"
    )
    await handle.signal("reject", DIRECTOR)
    assert (await handle.result()).outcome == "not approved at director_ok"


async def test_a_decision_may_name_its_gate(time_env, store, settings, ts_worker):
    handle = await two_gates(time_env, settings)
    # Early, for the second gate by name: kept for it, whatever gate comes first.
    await handle.signal("approve", {"approver": "dan", "role": "director", "gate": "director_ok"})
    await time_env.sleep(timedelta(hours=2))
    # The update refuses a decision for a gate that is not the pending one.
    named = Decision(approver="dana", role="billing", gate="director_ok")
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await handle.execute_update(
            "decide", DecideRequest(verdict=Verdict.APPROVE, decision=named)
        )
    assert isinstance(refused.value.cause, ApplicationError)
    assert refused.value.cause.message == (
        "gate: 'director_ok' is not the pending gate ('billing_ok')"
    )
    await handle.signal("approve", {"approver": "dana", "role": "billing"})  # no gate named
    result = await handle.result()
    assert result.state == State.COMPLETED
    assert [s.result for s in result.steps if s.kind == "approval"] == ["approved", "approved"]
    st = await status(handle)
    assert [d["outcome"] for d in st.decisions] == [
        "kept for gate 'director_ok'",
        "answers gate 'billing_ok'",
    ]


async def test_a_gate_that_times_out_and_proceeds_says_so(time_env, store, settings, ts_worker):
    proceeding = {
        **TWO_GATES,
        "steps": [
            {"id": "sign_off", "type": "approval", "timeout": "1h", "on_timeout": "proceed"},
            {"id": "thanks", "type": "email", "message": "Thank you."},
        ],
    }
    params = SequenceParams.model_validate(proceeding)
    outcome = await start_sequence(time_env.client, params, "F1", task_queue=settings.task_queue)
    assert outcome.handle is not None
    result = await outcome.handle.result()
    steps = {s.step_id: s for s in result.steps}
    assert steps["sign_off"].result == "timed out, proceeded"
    assert steps["thanks"].status == "done"


async def test_a_task_gate_that_times_out_and_proceeds_says_so(
    time_env, store, settings, ts_worker
):
    high = await store.templates.active("high_risk_intervention")
    assert high is not None
    escalation = high.escalation.model_copy(
        update={"timeout": timedelta(hours=1), "on_timeout": "proceed"}
    )
    handle = await start(time_env, store, settings, escalation=escalation)
    result = await handle.result()
    call = next(s for s in result.steps if s.step_id == "call")
    assert call.result is not None and call.result.startswith("timed out, proceeded: task ")
    st = await status(handle)
    assert st.decisions[-1]["verdict"] == "timed out, proceeded"
