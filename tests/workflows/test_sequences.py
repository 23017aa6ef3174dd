"""The code-defined sequences under the time-skipping server, with the real activities."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from contracts import (
    CancelRequest,
    Channel,
    Decision,
    InterventionStatus,
    Response,
    State,
    StepStatus,
)
from followthrough.platform.settings import Settings
from followthrough.triggers.start import start_sequence
from store import Store

COORDINATOR = Decision(approver="sarah", role="coordinator", note="go ahead")


async def start(
    env: WorkflowEnvironment,
    store: Store,
    settings: Settings,
    template: str = "high_risk_intervention",
    family: str = "F1",
    **overrides: Any,
) -> WorkflowHandle[Any, Any]:
    params = await store.templates.active(template)
    assert params is not None
    params = params.model_copy(update={"quiet_hours": None, **overrides})
    outcome = await start_sequence(env.client, params, family, task_queue=settings.task_queue)
    assert outcome.started, outcome.message
    assert outcome.workflow_id == f"intervention-{template}-{family}"
    assert outcome.handle is not None
    return outcome.handle


async def status(handle: WorkflowHandle[Any, Any]) -> InterventionStatus:
    result: InterventionStatus = await handle.query("status", result_type=InterventionStatus)
    return result


async def test_full_sequence_without_a_reply(time_env, store, settings, ts_worker):
    handle = await start(time_env, store, settings)
    await handle.signal("approve", COORDINATOR)  # kept until the gate is reached
    result = await handle.result()

    assert result.state == State.COMPLETED
    assert result.outcome == "call scheduled"
    steps = {s.step_id: s for s in result.steps}
    assert list(steps) == ["first_email", "wait_reply", "answered", "first_sms", "call"]
    assert all(s.status == StepStatus.DONE for s in steps.values())
    t0 = steps["first_email"].finished_at
    assert t0 is not None
    sms_at = steps["first_sms"].started_at
    call_at = steps["call"].started_at
    assert sms_at is not None and call_at is not None
    # The template's offsets: SMS 3 days after the email, the call 2 days after that.
    assert timedelta(days=3) <= sms_at - t0 < timedelta(days=3, minutes=1)
    assert timedelta(days=5) <= call_at - t0 < timedelta(days=5, minutes=1)

    messages = await store.messages.for_workflow(handle.id)
    assert [m.channel for m in messages] == ["email", "sms"]
    assert messages[0].subject == "Checking in with the Martinez family"
    # Stamped with the sequence's time, not the wall clock, so frequency caps see these sends.
    assert abs(messages[0].created_at - t0) < timedelta(minutes=1)
    assert abs(messages[1].created_at - sms_at) < timedelta(minutes=1)
    tasks = await store.tasks.for_workflow(handle.id)
    assert [(t.kind, t.status) for t in tasks] == [("call", "open")]
    audit = await store.steps.for_workflow(handle.id)
    assert [a.kind for a in audit] == ["email", "wait", "condition", "sms", "call"]


async def test_reply_after_email_stops_before_sms(time_env, store, settings, ts_worker):
    handle = await start(time_env, store, settings)
    await handle.signal("record_response", Response(channel=Channel.EMAIL, note="all fine"))
    result = await handle.result()

    assert result.state == State.COMPLETED
    assert result.outcome == "responded to outreach"
    assert [m.channel for m in await store.messages.for_workflow(handle.id)] == ["email"]
    assert await store.tasks.for_workflow(handle.id) == []


async def test_waits_at_the_gate_then_reject_skips_the_call(time_env, store, settings, ts_worker):
    handle = await start(time_env, store, settings)
    await time_env.sleep(timedelta(days=5, hours=1))
    st = await status(handle)
    assert st.state == State.AWAITING_APPROVAL
    assert st.pending_approval is not None and st.pending_approval.step_id == "call"
    assert await store.tasks.for_workflow(handle.id) == []

    await handle.signal("reject", Decision(approver="mike", role="director", note="not now"))
    result = await handle.result()
    assert result.outcome == "call not approved"
    assert await store.tasks.for_workflow(handle.id) == []


async def test_a_role_not_allowed_cannot_approve(time_env, store, settings, ts_worker):
    handle = await start(time_env, store, settings)
    await handle.signal("approve", Decision(approver="pat", role="parent"))
    await time_env.sleep(timedelta(days=5, hours=1))
    st = await status(handle)
    assert st.state == State.AWAITING_APPROVAL
    refusal = (
        "role: 'parent' may not decide on high_risk_intervention (allowed: coordinator, director)"
    )
    assert st.decisions[0]["refused"] == refusal
    assert [r.describe() for r in st.rejected_signals] == [f"rejected approve from pat: {refusal}"]

    await handle.signal("approve", COORDINATOR)
    result = await handle.result()
    assert result.outcome == "call scheduled"


async def test_cancel_during_the_wait(time_env, store, settings, ts_worker):
    handle = await start(time_env, store, settings)
    await time_env.sleep(timedelta(days=1))
    assert (await status(handle)).state == State.SCHEDULED
    await handle.signal("cancel", CancelRequest(reason="family withdrew", by="sarah"))
    result = await handle.result()

    assert result.state == State.CANCELLED
    assert result.outcome == "cancelled: family withdrew"
    assert [m.channel for m in await store.messages.for_workflow(handle.id)] == ["email"]


async def test_approval_timeout_follows_the_template(time_env, store, settings, ts_worker):
    handle = await start(time_env, store, settings)
    result = await handle.result()
    # No decision within the escalation timeout (2 days): on_timeout is `cancel`.
    assert result.state == State.CANCELLED
    assert result.outcome == "cancelled: approval timed out"


async def test_duplicate_trigger_starts_nothing(time_env, store, settings, ts_worker):
    handle = await start(time_env, store, settings)
    params = await store.templates.active("high_risk_intervention")
    assert params is not None
    again = await start_sequence(time_env.client, params, "F1", task_queue=settings.task_queue)
    assert not again.started
    assert again.message == f"{handle.id} is already running"
    await handle.signal("cancel", CancelRequest(reason="test over"))
    await handle.result()


async def test_email_without_address_falls_back_to_sms(time_env, store, settings, ts_worker):
    handle = await start(time_env, store, settings, family="F3")
    await handle.signal("record_response", Response(channel=Channel.SMS))
    result = await handle.result()

    steps = {s.step_id: s for s in result.steps}
    assert steps["first_email"].status == StepStatus.FELL_BACK
    assert steps["first_email_fallback_sms"].status == StepStatus.DONE
    assert [m.channel for m in await store.messages.for_workflow(handle.id)] == ["sms"]
