"""The blocks people take part in, under the time-skipping server. Escalation: a permanent
failure with no fallback pauses the sequence with a coordinator task; `resume`, `skip`,
`cancel` and the timeout's `on_timeout` each do what they say. The SMS provider is a real
local HTTP server that refuses on cue."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from temporalio.client import WorkflowHandle
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer

from activities.breaker import BreakerPolicy
from contracts import (
    CancelRequest,
    EscalationSpec,
    InterventionResult,
    InterventionStatus,
    RetrySpec,
    SequenceParams,
    State,
    StepStatus,
)
from followthrough import operations
from followthrough.platform.settings import Settings
from followthrough.triggers.start import start_sequence
from store import Store
from tests.fake_provider import FakeProvider
from worker import build_worker
from workflows.sequences import SEQUENCES


@pytest.fixture
def provider() -> Iterator[FakeProvider]:
    with FakeProvider().running() as running:
        yield running


@pytest.fixture
async def http_worker(
    time_env: WorkflowEnvironment, store: Store, settings: Settings, provider: FakeProvider
) -> AsyncIterator[Settings]:
    http_settings = provider.settings(settings)
    async with httpx.AsyncClient(timeout=10.0) as http:
        worker = build_worker(
            time_env.client, store, http, http_settings, breaker_policy=BreakerPolicy()
        )
        async with worker:
            yield http_settings


async def start(
    env: WorkflowEnvironment,
    store: Store,
    settings: Settings,
    retry: RetrySpec | None = None,
    **escalation: Any,
) -> WorkflowHandle[Any, InterventionResult]:
    """The medium-risk sequence for F1: email, a 1 s wait, then the SMS that will fail."""
    params = await store.templates.active("medium_risk_intervention")
    assert params is not None
    no_caps: dict[str, Any] = {"caps": {}} if "caps" in SequenceParams.model_fields else {}
    params = params.model_copy(
        update={
            **no_caps,
            "quiet_hours": None,
            "delays": {"wait_for_reply": timedelta(seconds=1)},
            "retry": retry or params.retry,
            "escalation": EscalationSpec.model_validate(
                {"assign_to": "coordinator", "timeout": "2d", "on_timeout": "skip", **escalation}
            ),
        }
    )
    outcome = await start_sequence(env.client, params, "F1", task_queue=settings.task_queue)
    assert outcome.handle is not None, outcome.message
    return outcome.handle


async def paused(handle: WorkflowHandle[Any, Any]) -> InterventionStatus:
    for _ in range(150):
        status: InterventionStatus = await handle.query("status", result_type=InterventionStatus)
        if status.state == State.PAUSED:
            return status
        await asyncio.sleep(0.1)
    raise AssertionError(f"never paused: {status.state}")


async def test_permanent_failure_pauses_with_diagnostics_then_resume(
    time_env, store, http_worker, provider
):
    provider.script("sms", 400)
    handle = await start(time_env, store, http_worker)
    status = await paused(handle)

    assert status.current_step == "nudge_sms"
    [task] = await store.tasks.list_open("escalation")
    assert task.workflow_id == handle.id and task.assign_to == "coordinator"
    assert task.details == {
        "step": "nudge_sms",
        "error": task.details["error"],
        "error_type": "InvalidRecipient",
        "message": task.details["message"],
        "attempts": 1,
        "family_id": "F1",
        "workflow_id": handle.id,
    }
    # The status and the provider's error code; its free text stays out of the history.
    assert "provider refused (400, ErrorCode 300)" in task.details["message"]
    assert "Invalid 'To' address" not in task.details["message"]

    await operations.answer_escalation(time_env.client, handle.id, "resume", "sarah", "fixed")
    result = await handle.result()

    assert result.state == State.COMPLETED and result.outcome == "check-in sent"
    steps = {s.step_id: s for s in result.steps}
    assert steps["nudge_sms"].status == StepStatus.DONE and steps["nudge_sms"].attempts == 2
    closed = await store.tasks.get(task.id)
    assert closed is not None and (closed.status, closed.closed_by) == ("done", "sarah")
    assert closed.close_note == "resume. fixed"
    first, second = provider.on("sms")
    assert (first.status, second.status) == (400, 200)
    # The retry after a person fixed things is a new request, with its own key.
    assert second.key == first.key + "/r1"
    assert len(provider.deliveries("sms")) == 1
    # The history of a pause and a resume replays on the current code.
    replayer = Replayer(workflows=SEQUENCES, data_converter=pydantic_data_converter)
    await replayer.replay_workflow(await handle.fetch_history())


async def test_retries_run_out_then_escalate(time_env, store, http_worker, provider):
    provider.script("sms", 503, 503, 503)
    handle = await start(
        time_env,
        store,
        http_worker,
        retry=RetrySpec(max_attempts=3, initial_interval=timedelta(milliseconds=200), backoff=1.0),
    )
    await paused(handle)
    [task] = await store.tasks.list_open("escalation")
    assert task.details["error_type"] == "ProviderUnavailable" and task.details["attempts"] == 3
    assert [r.status for r in provider.on("sms")] == [503, 503, 503]
    await operations.answer_escalation(time_env.client, handle.id, "resume", "sarah")
    result = await handle.result()
    assert result.state == State.COMPLETED and len(provider.deliveries("sms")) == 1


async def test_skip_goes_on_without_the_step(time_env, store, http_worker, provider):
    provider.script("sms", 400)
    handle = await start(time_env, store, http_worker)
    await paused(handle)
    await operations.answer_escalation(time_env.client, handle.id, "skip", "sarah")
    result = await handle.result()

    assert result.state == State.COMPLETED
    steps = {s.step_id: s for s in result.steps}
    assert steps["nudge_sms"].status == StepStatus.SKIPPED
    assert steps["nudge_sms"].result is not None and "InvalidRecipient" in steps["nudge_sms"].result
    assert provider.deliveries("sms") == []
    [task] = await store.tasks.for_workflow(handle.id)
    assert (task.kind, task.status) == ("escalation", "done")


async def test_store_steps_are_local_activities_named_by_their_summaries(
    time_env, store, http_worker, provider
):
    """The condition and the escalation task (opened, then closed) leave one marker each,
    with the summary the Web UI shows, as the family's read and the audit flush did
    already; only the sends are activity tasks."""
    provider.script("sms", 400)
    handle = await start(time_env, store, http_worker)
    await paused(handle)
    await operations.answer_escalation(time_env.client, handle.id, "skip", "sarah")
    await handle.result()
    [task] = await store.tasks.for_workflow(handle.id)

    history = await handle.fetch_history()
    scheduled = [
        e.activity_task_scheduled_event_attributes.activity_type.name
        for e in history.events
        if e.HasField("activity_task_scheduled_event_attributes")
    ]
    local = [
        e.user_metadata.summary.data.decode()
        for e in history.events
        if e.HasField("marker_recorded_event_attributes")
        and e.marker_recorded_event_attributes.marker_name == "core_local_activity"
    ]
    assert scheduled == ["send_email", "send_sms"]
    assert local == [
        '"Load the family\'s time zone and channels"',
        '"Did the family reply?"',
        '"Open a escalation task for a coordinator"',
        f'"Close escalation task {task.id}: skip by sarah"',
        '"Audit: nudge_sms skipped"',
    ]


async def test_cancel_while_paused(time_env, store, http_worker, provider):
    provider.script("sms", 400)
    handle = await start(time_env, store, http_worker)
    await paused(handle)
    await handle.signal("cancel", CancelRequest(reason="family left", by="sarah"))
    result = await handle.result()
    assert result.state == State.CANCELLED and result.outcome == "cancelled: family left"
    [task] = await store.tasks.for_workflow(handle.id)
    assert (task.kind, task.status) == ("escalation", "cancelled")
    steps = {s.step_id: s for s in result.steps}
    assert steps["nudge_sms_escalation"].status == StepStatus.COMPENSATED


@pytest.mark.parametrize(
    ("on_timeout", "state", "sms_status"),
    [
        ("cancel", State.CANCELLED, StepStatus.FAILED),
        ("skip", State.COMPLETED, StepStatus.SKIPPED),
        ("proceed", State.COMPLETED, StepStatus.DONE),
    ],
)
async def test_no_answer_applies_on_timeout(
    time_env, store, http_worker, provider, on_timeout, state, sms_status
):
    provider.script("sms", 400)  # only once: `proceed` tries again and gets through
    handle = await start(time_env, store, http_worker, on_timeout=on_timeout)
    result = await handle.result()  # the time-skipping server jumps the 2 days

    assert result.state == state
    steps = {s.step_id: s for s in result.steps}
    if on_timeout == "cancel":
        assert result.outcome == "cancelled: no answer to the escalation of 'nudge_sms'"
    else:
        assert steps["nudge_sms"].status == sms_status
    assert len(provider.deliveries("sms")) == (1 if on_timeout == "proceed" else 0)
    # Nobody answered: the escalation task leaves the inbox as cancelled.
    [task] = await store.tasks.for_workflow(handle.id)
    assert (task.kind, task.status) == ("escalation", "cancelled")
