"""`workflows.details`: where a sequence stands, in words, for the Web UI; and the run's
static summary and current details as the Web UI reads them from the real dev server."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta

from temporalio.api.sdk.v1 import WorkflowMetadata

from contracts import FamilyContext, InterventionStatus, PendingApproval, State, StepRecord
from followthrough.triggers import start as triggers
from tests.test_end_to_end import quick_template
from workflows.details import current_details

NOW = datetime(2026, 11, 27, 15, 2, tzinfo=UTC)  # 10:02 in New York


def status(state: State, **fields: object) -> InterventionStatus:
    return InterventionStatus(
        workflow_id="intervention-high_risk_intervention-F1001",
        family_id="F1001",
        template="high_risk_intervention",
        template_version=1,
        state=state,
        family=FamilyContext(family_id="F1001", timezone="America/New_York", channels=[]),
        **fields,  # type: ignore[arg-type]
    )


def test_awaiting_approval_of_a_call_since_local_time():
    call = StepRecord(step_id="call", kind="call", summary="Open a call task: no reply")
    pending = PendingApproval(
        step_id="call",
        reason="no reply",
        roles=["coordinator"],
        since=NOW,
        decide_by=NOW + timedelta(days=1),
    )
    text = current_details(
        status(
            State.AWAITING_APPROVAL, steps=[call], current_step="call", pending_approval=pending
        ),
        NOW + timedelta(minutes=5),
    )
    assert text == (
        "awaiting approval of a call (call) since 10:02 local, decide by Sat 28 Nov 10:02 local "
        "(roles: coordinator)"
    )


def test_waiting_names_the_step_and_the_next_action():
    wait = StepRecord(step_id="wait_reply", kind="wait", summary="Wait up to 3 days for a reply")
    text = current_details(
        status(
            State.SCHEDULED,
            steps=[wait],
            current_step="wait_reply",
            next_action_at=NOW + timedelta(hours=2),
        ),
        NOW,
    )
    assert text == "Wait up to 3 days for a reply; next action 12:02 local"


def test_ended_and_paused():
    assert current_details(status(State.COMPLETED, outcome="call scheduled"), NOW) == (
        "completed: call scheduled"
    )
    sms = StepRecord(step_id="first_sms", kind="sms", summary="Send SMS", error="HardBounce")
    paused = status(State.PAUSED, steps=[sms], current_step="first_sms")
    assert current_details(paused, NOW) == (
        "paused at first_sms: HardBounce; waiting for resume or skip"
    )


async def test_the_web_ui_reads_summary_and_current_details(
    dev_client, dev_worker, store, settings
):
    await quick_template(store)
    outcome = await triggers.predict(
        dev_client, store, "F3", 0.87, 82.0, task_queue=settings.task_queue
    )
    assert outcome.started and outcome.workflow_id
    handle = dev_client.get_workflow_handle(outcome.workflow_id)
    described = await handle.describe()
    assert await described.static_summary() == (
        "High-risk intervention · family F3 · risk 0.87 · v1"
    )
    assert "Haddad" not in (await described.static_summary() or "")
    metadata = await handle.query("__temporal_workflow_metadata", result_type=WorkflowMetadata)
    assert metadata.current_details  # set from the first state on
    await handle.cancel()
    for _ in range(100):
        metadata = await handle.query("__temporal_workflow_metadata", result_type=WorkflowMetadata)
        if metadata.current_details.startswith("cancelled"):
            break
        await asyncio.sleep(0.1)
    assert metadata.current_details == "cancelled: cancelled through Temporal"


async def test_current_details_follow_the_sequence_to_its_approval_gate(
    dev_client, dev_worker, store, settings
):
    await quick_template(store)
    outcome = await triggers.trigger(
        dev_client, store, "demo_quick_intervention", "F3", task_queue=settings.task_queue
    )
    assert outcome.workflow_id
    handle = dev_client.get_workflow_handle(outcome.workflow_id)
    assert await (await handle.describe()).static_summary() == (
        "Demo quick intervention · family F3 · v2"
    )
    seen: list[str] = []
    for _ in range(300):
        metadata = await handle.query("__temporal_workflow_metadata", result_type=WorkflowMetadata)
        if not seen or seen[-1] != metadata.current_details:
            seen.append(metadata.current_details)
        if metadata.current_details.startswith("awaiting approval"):
            break
        await asyncio.sleep(0.05)
    assert re.fullmatch(
        r"awaiting approval of a call \(call\) since \d\d:\d\d local, decide by "
        r"\w{3} \d\d \w{3} \d\d:\d\d local \(roles: coordinator, director\)",
        seen[-1],
    ), seen
    assert any(line.startswith("Wait up to 1 second for a reply; next action") for line in seen)
    await handle.cancel()
