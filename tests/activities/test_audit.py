"""Audit rows of steps that wrote none of their own, in an ActivityEnvironment."""

from __future__ import annotations

from temporalio.testing import ActivityEnvironment

from activities.audit import AuditActivities
from contracts import Channel, StepOutcome, StepRef

REF = StepRef(
    workflow_id="intervention-t-F1",
    run_id="r1",
    step_id="wait_reply",
    template="t",
    template_version=1,
)


async def test_rows_are_written_in_order_and_once(store):
    rows = [
        StepOutcome(ref=REF, family_id="F1", kind="wait", outcome="no reply"),
        StepOutcome(
            ref=REF.model_copy(update={"step_id": "first_email"}),
            family_id="F1",
            kind="email",
            outcome="fell back to sms",
            channel=Channel.EMAIL,
            error_type="HardBounce",
        ),
    ]
    audit = AuditActivities(store)
    env = ActivityEnvironment()
    await env.run(audit.record_steps, rows)
    await env.run(audit.record_steps, rows)  # a retry of the same activity
    stored = await store.steps.for_workflow(REF.workflow_id)
    assert [(r.step_id, r.outcome, r.error_type) for r in stored] == [
        ("wait_reply", "no reply", None),
        ("first_email", "fell back to sms", "HardBounce"),
    ]
