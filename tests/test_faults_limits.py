"""Limits under races: two starter processes and two worker processes, the real Temporal dev
server and the real PostgreSQL, a local SMS provider that answers in 1.5 s (as real SMS APIs
can). Every data-defined sequence here sends one SMS at once and then waits an hour, so it
holds its place while the others race for theirs.

- quota: `max_active: 3`, twelve families, every start made by both starters at once;
- family limit: six templates with `max_active_per_family: 1` for one family, both starters;
- cap: six templates for one family (no family limit) under the default SMS cap, 1 a day.

Never one over the limit: 3 running, 1 running, 1 SMS.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.client import Client, WorkflowExecutionStatus

from contracts import SequenceParams
from followthrough.platform.devserver import DevServer
from followthrough.platform.settings import Settings
from followthrough.triggers.errors import QuotaExceeded
from followthrough.triggers.start import trigger
from store import Store, migrate
from tests.fake_provider import FakeProvider
from tests.store.conftest import fresh_database
from tests.test_faults import ROOT, duplicates, stop_process, worker_process
from worker import build_worker

FAMILIES = 12


def template(name: str, **limits: Any) -> SequenceParams:
    return SequenceParams.model_validate(
        {
            "name": name,
            "workflow": "TemplateIntervention",
            "quiet_hours": None,
            "urgent": True,
            "retry": {"max_attempts": 5, "initial_interval": 0.2, "backoff": 1.0},
            **limits,
            "steps": [
                {"id": "hello", "type": "sms", "message": "Hi {{ first_name }}"},
                {"id": "hold", "type": "wait", "duration": "1h"},
            ],
        }
    )


@pytest.fixture
async def pg_url(tmp_path: Path) -> AsyncIterator[str]:
    async with fresh_database("postgresql", tmp_path) as url:
        await migrate(url)
        yield url


def starter(address: str, url: str, queue: str, pairs: list[str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.limit_race", address, url, queue, *pairs],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


async def running(client: Client, workflow_ids: set[str]) -> set[str]:
    found = set()
    for workflow_id in workflow_ids:
        described = await client.get_workflow_handle(workflow_id).describe()
        if described.status == WorkflowExecutionStatus.RUNNING:
            found.add(workflow_id)
    return found


async def test_two_starters_two_workers_never_go_over_a_limit(
    dev_server: DevServer, dev_client: Client, pg_url: str, tmp_path: Path
) -> None:
    queue = f"tq-limits-{time.monotonic_ns()}"
    async with Store.from_url(pg_url) as store:
        await store.templates.save(template("quota", max_active=3))
        for n in range(6):
            await store.templates.save(template(f"one_at_a_time_{n}", max_active_per_family=1))
            await store.templates.save(template(f"capped_{n}"))
        for n in range(FAMILIES):
            await store.families.upsert(f"Q{n}", "Quota Family", phone=f"+1555010{n:04d}")
        await store.families.upsert("P1", "Family One", phone="+15550200001")
        await store.families.upsert("C1", "Capped Family", phone="+15550300001")
        pairs = [f"quota:Q{n}" for n in range(FAMILIES)]
        pairs += [f"one_at_a_time_{n}:P1" for n in range(6)]
        pairs += [f"capped_{n}:C1" for n in range(6)]

        with FakeProvider(delay=1.5).running() as provider:
            env = {
                "TEMPORAL_ADDRESS": dev_server.address,
                "TEMPORAL_TASK_QUEUE": queue,
                "DATABASE_URL": pg_url,
                **provider.env(),
            }
            workers = [worker_process(env, tmp_path / f"worker-{n}.log") for n in (1, 2)]
            try:
                await asyncio.sleep(2.0)  # both polling before the starts arrive
                starters = [starter(dev_server.address, pg_url, queue, pairs) for _ in (1, 2)]
                outputs = [await asyncio.to_thread(s.communicate, timeout=120) for s in starters]
                for process, (_, err) in zip(starters, outputs, strict=True):
                    assert process.returncode == 0, err[-3000:]
                outcomes = [json.loads(line) for out, _ in outputs for line in out.splitlines()]
                started = {o["workflow_id"] for o in outcomes if o["status"] == "started"}
                # Let every started sequence reach its SMS (1.5 s each, the capped ones refused).
                settled, seen = time.monotonic(), -1
                while time.monotonic() - settled < 4.0 and time.monotonic() < settled + 60:
                    if len(provider.requests) != seen:
                        seen, settled = len(provider.requests), time.monotonic()
                    await asyncio.sleep(0.5)
                alive = await running(dev_client, started)
            finally:
                for worker in workers:
                    stop_process(worker)

    quota = {w for w in alive if "-quota-" in w}
    family = {w for w in alive if w.endswith("-P1")}
    capped = {w for w in alive if w.endswith("-C1")}
    sms_to = Counter(r.recipient for r in provider.requests if r.delivered)
    print(
        f"\n[fault] two starters x two workers on PostgreSQL: starts attempted={len(outcomes)} "
        f"started={len(started)}; quota 3 -> running {len(quota)}; family limit 1 -> running "
        f"{len(family)}; cap 1 SMS/day for 6 sequences -> SMS delivered {sms_to['+15550300001']}"
        f"; SMS attempted={len(provider.requests)} delivered={len(provider.deliveries())} "
        f"duplicated={duplicates(provider)}"
    )
    assert len(quota) == 3, sorted(quota)
    assert len(family) == 1, sorted(family)
    assert len(capped) == 6  # no limit on them: all run, their SMS waits for the next slot
    assert sms_to["+15550300001"] == 1, sms_to
    assert max(sms_to.values()) == 1 and duplicates(provider) == 0


async def test_a_sequence_that_ends_unannounced_frees_its_place(
    dev_client: Client, store: Store, settings: Settings
) -> None:
    """Terminated from outside (no code of ours runs): the next start that needs the place
    asks Temporal, releases it and starts."""
    await store.templates.save(template("quota_of_one", max_active=1))
    for family in ("R1", "R2"):
        await store.families.upsert(family, "Reconcile Family", phone="+15550400001")
    queue = settings.task_queue
    async with (
        httpx.AsyncClient(timeout=5.0) as http,
        build_worker(dev_client, store, http, settings),
    ):
        first = await trigger(dev_client, store, "quota_of_one", "R1", task_queue=queue)
        assert first.started and first.handle is not None
        with pytest.raises(QuotaExceeded):
            await trigger(dev_client, store, "quota_of_one", "R2", task_queue=queue)
        await first.handle.terminate("ended outside the product")
        deadline = time.monotonic() + 15
        while True:  # visibility may still count the terminated run for a moment
            try:
                second = await trigger(dev_client, store, "quota_of_one", "R2", task_queue=queue)
                break
            except QuotaExceeded:
                assert time.monotonic() < deadline, "the place was never released"
                await asyncio.sleep(0.5)
        assert second.started and second.handle is not None
        await second.handle.terminate("test over")
    held = [r.workflow_id for r in await store.reservations.held(template="quota_of_one")]
    assert held == ["intervention-quota_of_one-R2"]
