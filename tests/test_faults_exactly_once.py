"""A worker killed between the provider's answer and the outbox record, on the real Temporal
dev server with real worker processes and a real local HTTP provider.

The first worker runs with `FAULT_KILL_AFTER_SEND=1`: it SIGKILLs itself once the provider
has accepted the email, before the outbox records it. A second worker takes the retry. With a
provider that honours `Idempotency-Key` the retry sends the same key and the provider answers
from its record; with one that does not, the sequence asks a coordinator whether the email
reached the family. Either way: one delivery, never two.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from temporalio.client import Client

from contracts import EscalationAnswer, InterventionStatus, State, StepStatus
from followthrough.platform.devserver import DevServer
from followthrough.platform.settings import Settings
from store import Store
from tests.fake_provider import FakeProvider
from tests.test_faults import (
    FAST_BREAKER,
    duplicates,
    fast_params,
    finish,
    provider,
    start,
    stop_process,
    worker_process,
)
from worker import build_worker

__all__ = ["provider"]  # the fixture, shared with tests/test_faults.py


@pytest.fixture(params=["honours", "ignores"])
def keyed_provider(request: pytest.FixtureRequest) -> Iterator[FakeProvider]:
    with FakeProvider(honours_keys=request.param == "honours").running() as running:
        yield running


async def _wait_for(probe, timeout: float = 40.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = await probe()
        if found:
            return found
        await asyncio.sleep(0.2)
    raise AssertionError("timed out")


async def test_worker_killed_between_call_and_record_delivers_once(
    dev_server: DevServer,
    dev_client: Client,
    store: Store,
    settings: Settings,
    keyed_provider: FakeProvider,
    tmp_path: Path,
) -> None:
    provider = keyed_provider
    honours = provider.honours_keys
    http_settings = provider.settings(settings)
    env = {
        "TEMPORAL_ADDRESS": dev_server.address,
        "TEMPORAL_TASK_QUEUE": http_settings.task_queue,
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'store.db'}",
        "EMAIL_API_IDEMPOTENT": "1" if honours else "0",
        "SMS_API_IDEMPOTENT": "1" if honours else "0",
        **provider.env(),
    }
    params = await fast_params(store, attempt_timeout=3)
    handle = await start(dev_client, store, params, http_settings)
    first = worker_process({**env, "FAULT_KILL_AFTER_SEND": "1"}, tmp_path / "worker-1.log")
    try:
        first.wait(timeout=60)  # it kills itself right after the provider's answer
    finally:
        stop_process(first)
    assert first.returncode == -9, (tmp_path / "worker-1.log").read_text()[-2000:]
    assert len(provider.deliveries("email")) == 1
    [intent] = await store.messages.for_workflow(handle.id, unsent=True)
    assert intent.status == "sending"  # the intent was recorded, the answer never was
    second = worker_process(env, tmp_path / "worker-2.log")
    try:
        asked = 0
        if not honours:
            tasks = await _wait_for(lambda: store.tasks.for_workflow(handle.id))
            [task] = tasks
            assert task.kind == "escalation" and "did this email reach the family" in task.reason
            asked = 1
            assert len(provider.deliveries("email")) == 1  # asked instead of sending again
            await handle.signal("skip", EscalationAnswer(by="sarah", note="the family got it"))
        result = await finish(handle, timeout=60)
    finally:
        stop_process(second)

    assert result.state == State.COMPLETED
    emails = provider.on("email")
    assert len(provider.deliveries("email")) == 1 and duplicates(provider) == 0
    assert len(emails) == (2 if honours else 1)  # the same key again, or no second call
    assert len({r.key for r in emails}) == 1
    steps = {s.step_id: s for s in result.steps}
    assert steps["first_email"].status == StepStatus.DONE
    assert len(provider.deliveries("sms")) == 1  # the sequence went on: the SMS after it
    sent = [
        m for m in await store.messages.for_workflow(handle.id, unsent=True) if m.channel == "email"
    ]
    # Recorded by the retry; or, where a person answered, left as the unconfirmed intent.
    assert len(sent) == 1 and sent[0].status == ("sent" if honours else "sending")
    print(
        f"\n[fault] kill between call and record ({'honours' if honours else 'ignores'} "
        f"Idempotency-Key): attempted={len(emails)} delivered={len(provider.deliveries('email'))}"
        f" duplicated={duplicates(provider)} asked={asked} lost=0"
    )


async def test_a_stop_racing_a_send_stops_it(
    dev_client: Client, store: Store, settings: Settings, provider: FakeProvider
) -> None:
    """The sequence loaded the family (SMS allowed) and decided to send; the STOP lands in the
    store (as the receiver records it) before the SMS step calls the provider."""
    http_settings = provider.settings(settings)
    params = await fast_params(store)
    async with httpx.AsyncClient(timeout=10.0) as http:
        worker = build_worker(dev_client, store, http, http_settings, breaker_policy=FAST_BREAKER)
        async with worker:
            handle = await start(dev_client, store, params, http_settings)
            await _wait_for(lambda: _delivered(provider, "email"))
            family = (await handle.query("status", result_type=InterventionStatus)).family_id
            await store.families.opt_out(family, "sms")  # STOP, after the decision
            # The refused step is handed to a person, as any step that cannot go out.
            await _wait_for(lambda: _paused(handle))
            status = await handle.query("status", result_type=InterventionStatus)
            await handle.signal("skip", EscalationAnswer(by="sarah", note="opted out"))
            result = await finish(handle)

    assert result.state == State.COMPLETED
    step = {s.step_id: s for s in status.steps}["nudge_sms"]
    assert (step.error or "").startswith("OptedOut")
    assert provider.on("sms") == []
    print("\n[fault] STOP racing a send: attempted=0 delivered=0 duplicated=0 asked=0 lost=0")


async def _paused(handle) -> bool:
    status = await handle.query("status", result_type=InterventionStatus)
    return status.state == State.PAUSED


async def _delivered(provider: FakeProvider, channel: str) -> bool:
    return bool(provider.deliveries(channel))


async def test_an_outage_seen_by_two_workers(
    dev_server: DevServer,
    dev_client: Client,
    store: Store,
    settings: Settings,
    provider: FakeProvider,
    tmp_path: Path,
) -> None:
    """Two worker processes on one queue, a provider down for 5 s, six sequences: the
    circuit both workers share opens after its threshold, wherever the failures happened."""
    down_for, sequences = 5.0, 6
    http_settings = provider.settings(settings)
    env = {
        "TEMPORAL_ADDRESS": dev_server.address,
        "TEMPORAL_TASK_QUEUE": http_settings.task_queue,
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'store.db'}",
        "BREAKER_FAILURE_THRESHOLD": str(FAST_BREAKER.failure_threshold),
        "BREAKER_OPEN_SECONDS": str(FAST_BREAKER.open_for.total_seconds()),
        **provider.env(),
    }
    params = await fast_params(store, max_attempts=50)
    workers = [worker_process(env, tmp_path / f"worker-{n}.log") for n in (1, 2)]
    try:
        # Warm up: both workers polling and their circuits read, before the outage.
        warm = [await start(dev_client, store, params, http_settings) for _ in range(4)]
        await asyncio.gather(*(finish(h, timeout=60) for h in warm))
        before = len(provider.on("email"))
        back_at = provider.down("email", down_for)
        handles = [await start(dev_client, store, params, http_settings) for _ in range(sequences)]
        results = await asyncio.gather(*(finish(h, timeout=40) for h in handles))
    finally:
        for worker in workers:
            stop_process(worker)

    assert all(r.state == State.COMPLETED for r in results)
    emails = provider.on("email")[before:]
    failed = [r for r in emails if r.status != 200]
    # Shared: the threshold, the calls already in flight when it opened, one probe a window.
    # (Each worker on its own would add its own threshold and its own probes.)
    windows = int(down_for / FAST_BREAKER.open_for.total_seconds()) + 1
    bound = FAST_BREAKER.failure_threshold + (sequences - 1) + windows
    assert len(failed) <= bound, [r.status for r in emails]
    assert len([r for r in emails if r.delivered]) == sequences and duplicates(provider) == 0
    circuit = await store.circuits.get("http-email")
    assert circuit is not None and circuit.state == "closed", [r.status for r in emails]
    print(
        f"\n[fault] provider down {down_for:.0f} s, two workers, {sequences} sequences: "
        f"attempted={len(emails)} failed={len(failed)} (bound {bound}) "
        f"delivered={len([r for r in emails if r.delivered])} duplicated={duplicates(provider)} "
        f"asked=0 lost=0 recovered_in={emails[-1].at - back_at:.2f}s"
    )
