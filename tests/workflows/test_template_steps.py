"""Data step kinds under time-skipping: approval gates, gated sends, webhooks, retry overrides.

Webhooks go to a real HTTP server on 127.0.0.1 that the test starts.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from temporalio.client import WorkflowHandle

from contracts import (
    CancelRequest,
    Decision,
    InterventionResult,
    InterventionStatus,
    SequenceParams,
    State,
    StepStatus,
)
from followthrough.platform.settings import Settings
from followthrough.triggers.start import start_sequence
from tests.fake_provider import Answer, FakeProvider

COORDINATOR = Decision(approver="sarah", role="coordinator")
DIRECTOR = Decision(approver="dee", role="director")
THANKS = {"id": "thanks", "type": "email", "message": "Thank you, {{ first_name }}."}


def template(*steps: dict[str, Any], **extra: Any) -> SequenceParams:
    return SequenceParams.model_validate(
        {"name": "steps_under_test", "quiet_hours": None, "caps": {}, "steps": list(steps), **extra}
    )


async def start(env, settings, params: SequenceParams) -> WorkflowHandle[Any, Any]:
    outcome = await start_sequence(env.client, params, "F1", task_queue=settings.task_queue)
    assert outcome.handle is not None, outcome.message
    return outcome.handle


def statuses(result: InterventionResult) -> list[tuple[str, StepStatus]]:
    return [(s.step_id, s.status) for s in result.steps]


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # The webhook server is on loopback: allowed here by name and network.
    return dataclasses.replace(
        settings,
        webhook_allowed_hosts=("127.0.0.1",),
        webhook_private_networks=(ipaddress.ip_network("127.0.0.0/8"),),
    )


@pytest.fixture
def http() -> Iterator[FakeProvider]:
    with FakeProvider(Answer(201, {"id": "INC-7"})).running() as server:
        yield server


# ----------------------------------------------------------------------- approval steps


async def test_an_approval_step_opens_only_for_its_roles(time_env, store, settings, ts_worker):
    gate = {"id": "gate", "type": "approval", "reason": "Offer a plan?", "roles": ["director"]}
    handle = await start(time_env, settings, template(gate, THANKS))
    await handle.signal("approve", COORDINATOR)  # the template allows coordinators; this gate not
    await time_env.sleep(timedelta(hours=1))
    status = await handle.query("status", result_type=InterventionStatus)
    assert status.state == State.AWAITING_APPROVAL
    assert status.pending_approval is not None
    assert (status.pending_approval.step_id, status.pending_approval.roles) == (
        "gate",
        ["director"],
    )
    await handle.signal("approve", DIRECTOR)
    result = await handle.result()
    assert (result.state, result.outcome) == (State.COMPLETED, "email sent")
    assert statuses(result) == [("gate", StepStatus.DONE), ("thanks", StepStatus.DONE)]
    assert result.steps[0].result == "approved"


async def test_a_rejected_approval_step_ends_the_sequence(time_env, store, settings, ts_worker):
    handle = await start(time_env, settings, template({"id": "gate", "type": "approval"}, THANKS))
    await handle.signal("reject", COORDINATOR)
    result = await handle.result()
    assert (result.state, result.outcome) == (State.COMPLETED, "not approved at gate")
    assert await store.messages.for_workflow(handle.id) == []


@pytest.mark.parametrize(
    ("on_timeout", "state", "outcome", "sent"),
    [
        ("proceed", State.COMPLETED, "email sent", ["email"]),
        ("skip", State.COMPLETED, "not approved at gate", []),
        ("cancel", State.CANCELLED, "cancelled: approval timed out", []),
    ],
)
async def test_an_unanswered_approval_step_follows_on_timeout(
    time_env, store, settings, ts_worker, on_timeout, state, outcome, sent
):
    gate = {"id": "gate", "type": "approval", "timeout": "2d", "on_timeout": on_timeout}
    # The template's own escalation rule says otherwise: the step's fields win.
    params = template(gate, THANKS, escalation={"timeout": "9d", "on_timeout": "proceed"})
    handle = await start(time_env, settings, params)
    result = await handle.result()
    assert (result.state, result.outcome) == (state, outcome)
    described = await handle.describe()
    assert described.close_time is not None
    waited = described.close_time - described.start_time
    assert timedelta(days=2) <= waited < timedelta(days=2, minutes=1)
    assert [m.channel for m in await store.messages.for_workflow(handle.id)] == sent


# ----------------------------------------------------------------------- gated sends


async def test_a_send_that_requires_approval_waits_then_sends(time_env, store, settings, ts_worker):
    sms = {
        "id": "nudge",
        "type": "sms",
        "message": "Hi {{ first_name }}, shall we talk?",
        "delay": "1d",
        "requires_approval": True,
    }
    handle = await start(time_env, settings, template(sms))
    await time_env.sleep(timedelta(days=1, hours=1))
    status = await handle.query("status", result_type=InterventionStatus)
    assert status.pending_approval is not None and status.pending_approval.step_id == "nudge"
    assert await store.messages.for_workflow(handle.id) == []  # nothing before the yes
    await handle.signal("approve", COORDINATOR)
    result = await handle.result()
    assert (result.outcome, statuses(result)) == ("sms sent", [("nudge", StepStatus.DONE)])
    assert [m.channel for m in await store.messages.for_workflow(handle.id)] == ["sms"]


async def test_a_rejected_send_is_skipped_and_the_sequence_goes_on(
    time_env, store, settings, ts_worker
):
    sms = {"id": "nudge", "type": "sms", "message": "Hi.", "requires_approval": True}
    handle = await start(time_env, settings, template(sms, THANKS))
    await handle.signal("reject", COORDINATOR)
    result = await handle.result()
    assert statuses(result) == [("nudge", StepStatus.SKIPPED), ("thanks", StepStatus.DONE)]
    assert [m.channel for m in await store.messages.for_workflow(handle.id)] == ["email"]


# ----------------------------------------------------------------------- webhooks


def ticket(http: FakeProvider, **extra: Any) -> dict[str, Any]:
    return {
        "id": "ticket",
        "type": "webhook",
        "url": http.url + "/tickets?family={{ family_id }}",
        "body": {"title": "Call the {{ family_name }} family"},
        **extra,
    }


async def test_a_webhook_step_calls_the_system_once(time_env, store, settings, ts_worker, http):
    handle = await start(time_env, settings, template(ticket(http), THANKS))
    result = await handle.result()
    assert statuses(result) == [("ticket", StepStatus.DONE), ("thanks", StepStatus.DONE)]
    assert result.steps[0].result == "http 201"
    [call] = http.requests
    assert (call.method, call.path) == ("POST", "/tickets?family=F1")
    assert call.json() == {"title": "Call the Martinez family"}
    assert call.headers["Idempotency-Key"].endswith("/ticket")


async def test_a_cancelled_sequence_undoes_its_webhook(time_env, store, settings, ts_worker, http):
    undo = {"url": http.url + "/tickets/INC-7", "method": "delete"}
    step = ticket(http, compensate=True, undo=undo)
    hold = {"id": "hold", "type": "wait", "duration": "7d"}
    handle = await start(time_env, settings, template(step, hold, THANKS))
    await time_env.sleep(timedelta(days=1))
    await handle.signal("cancel", CancelRequest(reason="family withdrew"))
    result = await handle.result()
    assert (result.state, result.outcome) == (State.CANCELLED, "cancelled: family withdrew")
    assert result.steps[0].status == StepStatus.COMPENSATED
    assert [(r.method, r.path) for r in http.requests] == [
        ("POST", "/tickets?family=F1"),
        ("DELETE", "/tickets/INC-7"),
    ]
    forward, back = (r.headers["Idempotency-Key"] for r in http.requests)
    assert back == forward + "_undo"


async def test_a_finished_sequence_keeps_its_webhook(time_env, store, settings, ts_worker, http):
    step = ticket(
        http, compensate=True, undo={"url": http.url + "/tickets/INC-7", "method": "DELETE"}
    )
    handle = await start(time_env, settings, template(step, THANKS))
    assert (await handle.result()).state == State.COMPLETED
    assert [r.method for r in http.requests] == ["POST"]


async def test_a_step_retry_override_bounds_its_attempts(
    time_env, store, settings, ts_worker, http
):
    http.default = Answer(503, {"error": "down"})
    fast = {"max_attempts": 2, "initial_interval": "1s", "backoff": 1.0}
    params = template(
        ticket(http, retry=fast),
        THANKS,
        retry={"max_attempts": 5, "initial_interval": "1s", "backoff": 1.0},
        # Nobody answers the escalation: the failed step is skipped after an hour.
        escalation={"timeout": "1h", "on_timeout": "skip"},
    )
    handle = await start(time_env, settings, params)
    result = await handle.result()
    assert len(http.requests) == 2  # the step's 2 attempts, not the template's 5
    assert statuses(result) == [
        ("ticket", StepStatus.SKIPPED),
        ("ticket_escalation", StepStatus.DONE),
        ("thanks", StepStatus.DONE),
    ]
    assert "503" in (result.steps[0].error or "")
    assert [(t.kind, t.status) for t in await store.tasks.for_workflow(handle.id)] == [
        ("escalation", "cancelled")
    ]
