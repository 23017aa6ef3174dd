"""`followthrough.reporting.compare`: versions side by side, and when a difference is noise."""

from __future__ import annotations

import asyncio
import re
import uuid
from datetime import timedelta

import pytest
from temporalio.client import Client

from contracts import Channel, Response
from followthrough.reporting.compare import compare, two_proportion_z
from followthrough.triggers.start import start_sequence
from store import Store
from tests.starter.runner import invoke


def test_two_proportion_z_test_matches_the_textbook() -> None:
    # 30 of 100 vs 45 of 100: pooled p = 0.375, se = 0.0685, z = 2.191, two-sided p = 0.0285.
    result = two_proportion_z(30, 100, 45, 100)
    assert result is not None
    assert result.z == pytest.approx(2.191, abs=1e-3)
    assert result.p_value == pytest.approx(0.0285, abs=1e-3)
    assert result.beyond_noise
    small = two_proportion_z(3, 10, 4, 10)
    assert small is not None and not small.beyond_noise
    assert two_proportion_z(0, 0, 1, 2) is None
    assert two_proportion_z(0, 10, 0, 10) is None  # nothing varies


async def test_stats_compare_reads_visibility_on_the_dev_server(
    store, dev_server, dev_client, dev_worker, settings, monkeypatch, tmp_path
) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'store.db'}")
    monkeypatch.setenv("TEMPORAL_ADDRESS", dev_server.address)
    name = f"compare_probe_{uuid.uuid4().hex[:8]}"
    base = await store.templates.active("medium_risk_intervention")
    assert base is not None
    v1, _ = await store.templates.save(base.model_copy(update={"name": name, "quiet_hours": None}))
    handles = []
    for family in ("F1", "F2"):
        outcome = await start_sequence(dev_client, v1, family, task_queue=settings.task_queue)
        assert outcome.handle is not None
        handles.append(outcome.handle)
    await handles[0].signal("record_response", Response(channel=Channel.EMAIL))
    await handles[0].result()
    for _ in range(100):  # visibility catches up within moments
        if (await dev_client.count_workflows(f"TemplateName = '{name}'")).count == 2:
            break
        await asyncio.sleep(0.05)

    # The CLI runs its own event loop: in a thread, while this one keeps the worker going.
    code, output = await asyncio.to_thread(invoke, "stats", "--compare", name)
    assert code == 0, output
    lines = output.splitlines()
    assert lines[0] == f"{name}: versions side by side"
    assert re.match(r"\s+v1\s+2\s+1\s+1\s+0\s+1\s+50%", lines[2]), lines[2]
    assert lines[-1] == "only one version has sequences: nothing to compare yet"
    await handles[1].terminate("test over")


async def test_compare_leaves_out_sequences_no_worker_answers_for(
    dev_client: Client, store: Store
) -> None:
    name = f"unread_probe_{uuid.uuid4().hex[:8]}"
    base = await store.templates.active("medium_risk_intervention")
    assert base is not None
    v1, _ = await store.templates.save(base.model_copy(update={"name": name}))
    outcome = await start_sequence(dev_client, v1, "F1", task_queue=f"nobody-{uuid.uuid4()}")
    assert outcome.handle is not None
    for _ in range(100):
        if (await dev_client.count_workflows(f"TemplateName = '{name}'")).count == 1:
            break
        await asyncio.sleep(0.05)
    report = await compare(dev_client, store, name, query_timeout=timedelta(seconds=1))
    assert report.unread == [outcome.workflow_id]
    assert report.versions == {}
    assert "(1 sequences left out: no worker answered their status query)" in report.lines()
    await outcome.handle.terminate("test over")
