"""Faults on the real Temporal dev server with a real local HTTP provider.

Each test states what the provider saw: requests (attempted), distinct messages accepted
(delivered), and deliveries beyond one per idempotency key (duplicated, always 0), plus the
time from the fault's end to the message going out. Waits are short and bounded: retries
every 0.2 s (the server makes that about 1 s), a 2 s breaker window for a provider down for
5 s (standing in for a minute-long outage and a breaker window of a minute), a 3 s attempt
timeout for the killed worker.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowFailureError, WorkflowHandle
from temporalio.exceptions import CancelledError

from activities.breaker import BreakerPolicy
from contracts import (
    InterventionResult,
    InterventionStatus,
    RetrySpec,
    SequenceParams,
    State,
    StepStatus,
)
from followthrough import operations
from followthrough.platform.devserver import DevServer, free_port
from followthrough.platform.send_queues import Workers
from followthrough.platform.settings import Settings
from followthrough.triggers.start import start_sequence
from store import Store
from tests.conftest import connect_when_ready, register_search_attributes
from tests.fake_provider import Answer, FakeProvider
from tests.fault_sequences import CallThenWaitIntervention
from worker import build_worker
from workflows.sequences import SEQUENCES

ROOT = Path(__file__).resolve().parent.parent
FAST_BREAKER = BreakerPolicy(failure_threshold=3, open_for=timedelta(seconds=2))


@pytest.fixture
def provider() -> Iterator[FakeProvider]:
    with FakeProvider().running() as running:
        yield running


@pytest.fixture
def http_settings(settings: Settings, provider: FakeProvider) -> Settings:
    return provider.settings(settings)


@pytest.fixture
async def fault_worker(
    dev_client: Client, store: Store, http_settings: Settings
) -> AsyncIterator[Workers]:
    async with httpx.AsyncClient(timeout=10.0) as http:
        worker = build_worker(
            dev_client,
            store,
            http,
            http_settings,
            workflows=[*SEQUENCES, CallThenWaitIntervention],
            breaker_policy=FAST_BREAKER,
        )
        async with worker:
            yield worker


async def fast_params(store: Store, **retry: Any) -> SequenceParams:
    """The medium-risk sequence (email, a 1 s wait, SMS) with fast retries."""
    params = await store.templates.active("medium_risk_intervention")
    assert params is not None
    spec = {"max_attempts": 5, "initial_interval": 0.2, "backoff": 1.0, "max_interval": 1, **retry}
    # Frequency caps (where the contract has them) would hold the second SMS for a day.
    no_caps: dict[str, Any] = {"caps": {}} if "caps" in SequenceParams.model_fields else {}
    return params.model_copy(
        update={
            **no_caps,
            "quiet_hours": None,
            "urgent": True,
            "retry": RetrySpec.model_validate(spec),
            "delays": {"wait_for_reply": timedelta(seconds=1)},
        }
    )


async def start(
    client: Client, store: Store, params: SequenceParams, settings: Settings
) -> WorkflowHandle:
    """Start the sequence for a family of its own, so no test meets another's workflow id."""
    family = f"FT{uuid.uuid4().hex[:10]}"
    await store.families.upsert(
        family, "Martinez", email="martinez@example.org", phone="+15550100001", timezone="UTC"
    )
    outcome = await start_sequence(client, params, family, task_queue=settings.task_queue)
    assert outcome.started and outcome.handle is not None, outcome.message
    return outcome.handle


async def finish(handle: WorkflowHandle, timeout: float = 20) -> InterventionResult:
    try:
        result: InterventionResult = await asyncio.wait_for(handle.result(), timeout)
    except TimeoutError:
        status = await handle.query("status", result_type=InterventionStatus)
        raise AssertionError(f"not finished in {timeout}s: {status.model_dump_json()}") from None
    return result


def duplicates(provider: FakeProvider) -> int:
    """Messages delivered more than once under one key: what must never happen."""
    return sum(n - 1 for n in Counter(provider.deliveries()).values() if n > 1)


def report(name: str, provider: FakeProvider, recovered_s: float | None) -> None:
    recovery = "-" if recovered_s is None else f"{recovered_s:.2f}s"
    print(
        f"\n[fault] {name}: attempted={len(provider.requests)} "
        f"delivered={len(provider.deliveries())} duplicated={duplicates(provider)} "
        f"recovered_in={recovery}"
    )


async def test_500_twice_then_200_delivers_once(
    dev_client, fault_worker, store, http_settings, provider
):
    provider.script("email", 500, 500)
    handle = await start(dev_client, store, await fast_params(store), http_settings)
    result = await finish(handle)

    assert result.state == State.COMPLETED
    emails = provider.on("email")
    assert [r.status for r in emails] == [500, 500, 200]
    assert len({r.key for r in emails}) == 1  # every attempt carried the same key
    assert emails[0].key == f"{handle.id}/{emails[0].key.split('/')[1]}/first_email"
    assert len(provider.deliveries("email")) == 1 and duplicates(provider) == 0
    audit = {a.step_id: a for a in await store.steps.for_workflow(handle.id)}
    assert audit["first_email"].attempts == 3  # the attempts are recorded
    steps = {s.step_id: s for s in result.steps}
    assert steps["first_email"].status == StepStatus.DONE
    assert steps["first_email"].attempts == 3  # and shown in the status
    assert len(await store.messages.for_workflow(handle.id)) == 2  # the email and the SMS
    report("500 twice then 200", provider, emails[2].at - emails[0].at)


async def test_429_retry_after_is_honoured(
    dev_client, fault_worker, store, http_settings, provider
):
    provider.script("email", Answer(429, {"Message": "slow down"}, {"Retry-After": "2"}))
    handle = await start(dev_client, store, await fast_params(store), http_settings)
    result = await finish(handle)

    assert result.state == State.COMPLETED
    first, second = provider.on("email")
    assert (first.status, second.status) == (429, 200)
    # The retry policy alone would come back after about a second; Retry-After says 2 s.
    assert second.at - first.at >= 2.0
    assert len(provider.deliveries()) == 2 and duplicates(provider) == 0
    report("429 Retry-After: 2", provider, second.at - first.at)


async def test_invalid_recipient_falls_back_to_sms(
    dev_client, fault_worker, store, http_settings, provider
):
    provider.script("email", 400)
    handle = await start(dev_client, store, await fast_params(store), http_settings)
    result = await finish(handle)

    assert result.state == State.COMPLETED
    assert [r.status for r in provider.on("email")] == [400]  # permanent: not retried
    steps = {s.step_id: s for s in result.steps}
    assert steps["first_email"].status == StepStatus.FELL_BACK
    assert steps["first_email"].error is not None
    assert steps["first_email"].error.startswith("InvalidRecipient")
    assert steps["first_email_fallback_sms"].status == StepStatus.DONE
    rows = await store.messages.for_workflow(handle.id, unsent=True)
    # The refused email's intent is kept as failed; one SMS, which covers the planned nudge_sms.
    assert sorted((m.step_id, m.channel, m.status) for m in rows) == [
        ("first_email", "email", "failed"),
        ("first_email_fallback_sms", "sms", "sent"),
    ]
    assert steps["nudge_sms"].status == StepStatus.SKIPPED
    assert duplicates(provider) == 0
    sms = provider.on("sms")
    report("400 invalid recipient -> SMS", provider, sms[0].at - provider.on("email")[0].at)


async def test_provider_down_opens_the_breaker(
    dev_client, fault_worker, store, http_settings, provider
):
    down_for, sequences = 5.0, 4
    back_at = provider.down("email", down_for)
    params = await fast_params(store, max_attempts=50)
    handles = [await start(dev_client, store, params, http_settings) for _ in range(sequences)]
    results = await asyncio.gather(*(finish(h, timeout=30) for h in handles))

    assert all(r.state == State.COMPLETED for r in results)
    emails = provider.on("email")
    assert sum(r.status == 200 for r in emails) == sequences
    # The server retries each activity about once a second, so without the breaker the
    # provider would get about sequences x seconds = 20 failing calls. With it: the calls
    # that open it (those already in flight included), one probe per open window, and then
    # one success per sequence.
    windows = int(down_for / FAST_BREAKER.open_for.total_seconds()) + 1
    bound = FAST_BREAKER.failure_threshold + (sequences - 1) + windows + sequences
    assert len(emails) <= bound, [r.status for r in emails]
    rows = [r for r in await store.health.list() if r.provider == "http-email"]
    assert len(rows) == 1 and rows[0].state == "closed" and rows[0].transitions >= 3
    assert len(provider.deliveries("email")) == sequences and duplicates(provider) == 0
    report(
        f"provider down {down_for:.0f} s, {sequences} sequences", provider, emails[-1].at - back_at
    )


def worker_process(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "worker.py"],
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def stop_process(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.kill()
    process.wait(timeout=10)


async def test_worker_killed_mid_send_sends_once(
    dev_server: DevServer, dev_client, store, http_settings, provider, tmp_path: Path
):
    env = {
        "TEMPORAL_ADDRESS": dev_server.address,
        "TEMPORAL_TASK_QUEUE": http_settings.task_queue,
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'store.db'}",
        # This provider honours Idempotency-Key: the retry may send the same key again.
        "EMAIL_API_IDEMPOTENT": "1",
        **provider.env(),
    }
    provider.hold("email")
    params = await fast_params(store, attempt_timeout=3)
    handle = await start(dev_client, store, params, http_settings)
    first = worker_process(env, tmp_path / "worker-1.log")
    try:
        assert await asyncio.to_thread(provider.held.wait, 30), "the send never reached us"
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        killed_at = time.monotonic()
    finally:
        stop_process(first)
    provider.release()
    second = worker_process(env, tmp_path / "worker-2.log")
    try:
        result = await finish(handle, timeout=45)
    finally:
        stop_process(second)

    assert result.state == State.COMPLETED
    emails = provider.on("email")
    assert len(emails) == 2 and len({r.key for r in emails}) == 1  # the retry reused the key
    assert provider.deliveries("email") == [emails[0].key]  # accepted once, not twice
    assert len(provider.deliveries("sms")) == 1 and duplicates(provider) == 0
    assert (
        len([m for m in await store.messages.for_workflow(handle.id) if m.channel == "email"]) == 1
    )
    report("worker SIGKILL mid-send", provider, emails[1].at - killed_at)


async def test_dev_server_restart_resumes_the_sequence(
    store, settings: Settings, provider, tmp_path: Path
):
    server = DevServer(tmp_path / "temporal.db", port=free_port(), ui_port=None)
    await server.start()
    try:
        client = await connect_when_ready(Settings(temporal_address=server.address))
        await register_search_attributes(client)
        http_settings = provider.settings(settings)
        params = (await fast_params(store)).model_copy(
            update={"delays": {"wait_for_reply": timedelta(seconds=4)}}
        )
        async with httpx.AsyncClient(timeout=10.0) as http:
            worker = build_worker(client, store, http, http_settings, breaker_policy=FAST_BREAKER)
            async with worker:
                handle = await start(client, store, params, http_settings)
                for _ in range(100):
                    if provider.deliveries("email"):
                        break
                    await asyncio.sleep(0.1)
                assert provider.deliveries("email"), "the email never went out"
                server.stop()  # mid-sequence: the 4 s wait for a reply is running
                await asyncio.sleep(1.0)
                await server.start()
                restarted_at = time.monotonic()
                result = await finish(
                    client.get_workflow_handle(handle.id, result_type=InterventionResult),
                    timeout=45,
                )
    finally:
        server.stop()

    assert result.state == State.COMPLETED and result.outcome == "check-in sent"
    assert [s.step_id for s in result.steps] == [
        "first_email",
        "wait_reply",
        "answered",
        "nudge_sms",
    ]
    assert len(provider.deliveries("email")) == 1 and len(provider.deliveries("sms")) == 1
    assert duplicates(provider) == 0
    # Due 4 s (the reply wait) after the email; the server was down for part of that wait.
    due = provider.on("email")[0].at + 4.0
    late = provider.on("sms")[-1].at - due
    back = restarted_at - provider.on("email")[0].at
    print(f"\n[fault] dev server back {back:.2f}s after the email")
    report("dev server restart (lateness past the due time)", provider, late)


@pytest.mark.parametrize("how", ["signal", "temporal"])
async def test_cancel_after_call_task_compensates(
    dev_client, fault_worker, store, http_settings, provider, how
):
    params = (await fast_params(store)).model_copy(
        update={
            "name": "call_then_wait",
            "workflow": "CallThenWaitIntervention",
            "delays": {"wait_for_reply": timedelta(hours=1)},
        }
    )
    handle = await start(dev_client, store, params, http_settings)
    for _ in range(100):
        tasks = await store.tasks.for_workflow(handle.id)
        if tasks:
            break
        await asyncio.sleep(0.1)
    assert [(t.kind, t.status) for t in tasks] == [("call", "open")]
    if how == "signal":  # `followthrough cancel`
        await operations.cancel(dev_client, handle.id, "family withdrew", "sarah")
        result = await finish(handle)
        assert result.state == State.CANCELLED and result.outcome == "cancelled: family withdrew"
    else:  # the Web UI's or `temporal workflow cancel`: the undo still runs before it ends
        await handle.cancel()
        with pytest.raises(WorkflowFailureError) as failure:
            await asyncio.wait_for(handle.result(), 20)
        assert isinstance(failure.value.cause, CancelledError)

    [task] = await store.tasks.for_workflow(handle.id)
    assert task.status == "cancelled" and task.close_note == "sequence called off"
    status = await operations.status(dev_client, handle.id)
    assert status.state == State.CANCELLED
    assert {s.step_id: s.status for s in status.steps}["call"] == StepStatus.COMPENSATED
    # The state the status query and the Web UI showed, in order: compensating, then cancelled.
    states = []
    async for event in handle.fetch_history_events():
        if event.event_type == EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES:
            fields = event.upsert_workflow_search_attributes_event_attributes.search_attributes
            payload = fields.indexed_fields.get("InterventionState")
            if payload is not None:
                states.append(payload.data.decode().strip('"'))
    assert states[-2:] == ["compensating", "cancelled"]
    report(f"cancel after call task ({how})", provider, None)
