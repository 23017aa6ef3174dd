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

import pytest
from temporalio.client import Client

from contracts import EscalationAnswer, State, StepStatus
from followthrough.platform.devserver import DevServer
from followthrough.platform.settings import Settings
from store import Store
from tests.fake_provider import FakeProvider
from tests.test_faults import duplicates, fast_params, finish, start, stop_process, worker_process


@pytest.fixture(params=["honours", "ignores"])
def keyed_provider(request: pytest.FixtureRequest) -> Iterator[FakeProvider]:
    with FakeProvider(honours_keys=request.param == "honours").running() as running:
        yield running


async def _wait_for(probe, timeout: float = 40.0):  # type: ignore[no-untyped-def]
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
    [intent] = await store.messages.for_workflow(handle.id)
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
    sent = [m for m in await store.messages.for_workflow(handle.id) if m.channel == "email"]
    # Recorded by the retry; or, where a person answered, left as the unconfirmed intent.
    assert len(sent) == 1 and sent[0].status == ("sent" if honours else "sending")
    print(
        f"\n[fault] kill between call and record ({'honours' if honours else 'ignores'} "
        f"Idempotency-Key): attempted={len(emails)} delivered={len(provider.deliveries('email'))}"
        f" duplicated={duplicates(provider)} asked={asked} lost=0"
    )
