"""The quarantine view and template auto-suspension, on the real dev server."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from temporalio.client import Client, WorkflowFailureError, WorkflowHandle
from typer.testing import CliRunner

from activities.breaker import BreakerPolicy
from contracts import SequenceParams, State, StepStatus
from followthrough.platform.devserver import DevServer
from followthrough.platform.settings import Settings
from followthrough.reporting import quarantine as views
from followthrough.triggers import start as triggers
from followthrough.triggers import suspension as failures
from followthrough.triggers.start import start_sequence
from starter.cli import app
from store import Store
from tests.fake_provider import FakeProvider
from worker import build_worker

POLICY = failures.SuspensionPolicy(threshold=2, window=timedelta(hours=1))


@pytest.fixture
def provider() -> Iterator[FakeProvider]:
    with FakeProvider().running() as running:
        yield running


@pytest.fixture
async def http_settings(
    dev_client: Client, store: Store, settings: Settings, provider: FakeProvider
) -> AsyncIterator[Settings]:
    http_settings = provider.settings(settings)
    async with httpx.AsyncClient(timeout=10.0) as http:
        worker = build_worker(
            dev_client, store, http, http_settings, breaker_policy=BreakerPolicy()
        )
        async with worker:
            yield http_settings


async def template(store: Store, **changes: Any) -> SequenceParams:
    """A fast medium-risk template under a name no other test uses."""
    params = await store.templates.active("medium_risk_intervention")
    assert params is not None
    no_caps: dict[str, Any] = {"caps": {}} if "caps" in SequenceParams.model_fields else {}
    params = params.model_copy(
        update={
            **no_caps,
            "name": f"q_{uuid.uuid4().hex[:12]}",
            "quiet_hours": None,
            "delays": {"wait_for_reply": timedelta(seconds=0.5)},
            **changes,
        }
    )
    saved, _ = await store.templates.save(params)
    return saved


async def start(
    client: Client, params: SequenceParams, family: str, settings: Settings
) -> WorkflowHandle[Any, Any]:
    outcome = await start_sequence(client, params, family, task_queue=settings.task_queue)
    assert outcome.handle is not None, outcome.message
    return outcome.handle


async def listed(client: Client, *workflow_ids: str) -> list[views.QuarantineRow]:
    for _ in range(100):
        rows = [r for r in await views.quarantine(client) if r.workflow_id in workflow_ids]
        if len(rows) == len(workflow_ids):
            return rows
        await asyncio.sleep(0.1)
    raise AssertionError(f"not all quarantined: {rows}")


async def test_quarantine_lists_paused_and_failed_oldest_first_then_suspends(
    dev_server: DevServer, dev_client, store, http_settings, provider, monkeypatch
):
    params = await template(store)
    provider.script("sms", 400)  # F1's nudge is refused, and it has no fallback: paused
    paused = await start(dev_client, params, "F1", http_settings)
    await asyncio.sleep(0.2)
    # A message the template lacks fails the sequence at its SMS step.
    broken = params.model_copy(
        update={"messages": {"gentle_checkin": params.messages["gentle_checkin"]}}
    )
    failed = await start(dev_client, broken, "F2", http_settings)
    with pytest.raises(WorkflowFailureError):
        await failed.result()

    rows = await listed(dev_client, paused.id, failed.id)
    assert [(r.workflow_id, r.state, r.step) for r in rows] == [
        (paused.id, "paused", "nudge_sms"),
        (failed.id, "failed", "nudge_sms"),
    ]
    assert rows[0].last_error is not None and rows[0].last_error.startswith("InvalidRecipient")
    assert rows[1].last_error is not None and "has no message 'nudge'" in rows[1].last_error

    monkeypatch.setenv("TEMPORAL_ADDRESS", dev_server.address)
    output = (await asyncio.to_thread(CliRunner().invoke, app, ["quarantine"])).output
    assert paused.id in output and failed.id in output
    assert output.index(paused.id) < output.index(failed.id)

    # Two failing sequences within the window: the next start is refused, with the way out.
    with pytest.raises(failures.TemplateSuspended) as refused:
        await failures.guard_start(dev_client, store, params.name, POLICY)
    assert f"followthrough templates resume {params.name}" in str(refused.value)
    monkeypatch.setenv("SUSPEND_AFTER_FAILURES", "2")
    with pytest.raises(failures.TemplateSuspended, match="is suspended"):
        await triggers.trigger(
            dev_client, store, params.name, "F3", task_queue=http_settings.task_queue
        )

    # Resumed: the failures before the resume were judged already, so starts are allowed.
    await failures.resume_template(store, params.name, "sarah")
    outcome = await triggers.trigger(
        dev_client, store, params.name, "F3", task_queue=http_settings.task_queue
    )
    assert outcome.started
    assert outcome.handle is not None
    await outcome.handle.result()

    # `followthrough skip WORKFLOW_ID --by NAME` lets the paused one go on without its SMS.
    answer = ["skip", paused.id, "--by", "sarah", "--note", "no valid number"]
    output = (await asyncio.to_thread(CliRunner().invoke, app, answer)).output
    assert output.strip() == f"skip sent to {paused.id}"
    result = await paused.result()
    assert result.state == State.COMPLETED
    assert {s.step_id: s.status for s in result.steps}["nudge_sms"] == StepStatus.SKIPPED
