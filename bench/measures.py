"""The measurements. Each returns a dict of figures; `__main__` runs them and prints the table."""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from datetime import timedelta
from typing import Any

from temporalio.client import WorkflowHandle
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from bench.floor import FloorApproval, FloorSequence
from bench.harness import (
    TASK_QUEUE,
    Env,
    add_families,
    bench_worker,
    cpu_seconds,
    latency_summary,
    rss_mb,
)
from bench.marks import MARKS
from bench.sequences import bench_params
from contracts import Channel, Decision, Response, SequenceParams
from followthrough.platform.devserver import SEARCH_ATTRIBUTES, find_binary
from followthrough.triggers import start as triggers
from followthrough.triggers.batch import PredictionInput, predict_many
from store.families import context_of

Starter = Callable[[str], Awaitable[WorkflowHandle[Any, Any]]]
Signaller = Callable[[str, WorkflowHandle[Any, Any]], Callable[[], Awaitable[None]]]
CONCURRENCY = 100


def follow_through(env: Env, params: SequenceParams, task_queue: str = TASK_QUEUE) -> Starter:
    """Starts through the real trigger path's `start_sequence` (search attributes and all),
    with the family read from the store first, as `triggers.trigger` and `predict` do."""

    async def start(family_id: str) -> WorkflowHandle[Any, Any]:
        row = await env.store.families.get(family_id)
        assert row is not None, family_id
        outcome = await triggers.start_sequence(
            env.client, params, family_id, task_queue=task_queue, family=context_of(row)
        )
        assert outcome.handle is not None, outcome.message
        return outcome.handle

    return start


def floor(env: Env, wait: timedelta, task_queue: str = TASK_QUEUE) -> Starter:
    async def start(family_id: str) -> WorkflowHandle[Any, Any]:
        return await env.client.start_workflow(
            FloorSequence.run,
            args=[family_id, wait.total_seconds()],
            id=f"floor-{family_id}",
            task_queue=task_queue,
        )

    return start


def floor_approval(env: Env, wait: timedelta, task_queue: str = TASK_QUEUE) -> Starter:
    async def start(family_id: str) -> WorkflowHandle[Any, Any]:
        return await env.client.start_workflow(
            FloorApproval.run,
            args=[family_id, wait.total_seconds()],
            id=f"floor-approval-{family_id}",
            task_queue=task_queue,
        )

    return start


async def start_all(
    start: Starter, family_ids: list[str], concurrency: int = CONCURRENCY
) -> list[WorkflowHandle[Any, Any]]:
    gate = asyncio.Semaphore(concurrency)

    async def one(family_id: str) -> WorkflowHandle[Any, Any]:
        async with gate:
            return await start(family_id)

    return list(await asyncio.gather(*(one(f) for f in family_ids)))


def family_ids(prefix: str, n: int) -> list[str]:
    return [f"{prefix}{i:06d}" for i in range(n)]


async def throughput(env: Env, label: str, start: Starter, n: int) -> dict[str, Any]:
    """N sequences started at once and run to completion: sequences per second."""
    ids = family_ids(f"T{label[:2].upper()}{uuid.uuid4().hex[:4]}", n)
    await add_families(env.store, ids)
    server, me = env.server_process, None
    cpu0, own0, t0 = cpu_seconds(server), cpu_seconds(me), time.perf_counter()
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(family_id: str) -> WorkflowHandle[Any, Any]:
        async with gate:
            handle = await start(family_id)
        await handle.result()
        return handle

    handles = await asyncio.gather(*(one(f) for f in ids))
    elapsed = time.perf_counter() - t0
    history = await handles[0].fetch_history()
    return {
        "sequences": n,
        "seconds": round(elapsed, 2),
        "per_second": round(n / elapsed, 2),
        "history_events": len(history.events),
        "server_cpu_ms_per_sequence": round((cpu_seconds(server) - cpu0) * 1000 / n, 1),
        "worker_cpu_ms_per_sequence": round((cpu_seconds(me) - own0) * 1000 / n, 1),
    }


async def _wait_for(name: str, workflow_ids: Iterable[str], timeout: float) -> bool:
    pending = set(workflow_ids)
    deadline = time.monotonic() + timeout
    while pending and time.monotonic() < deadline:
        pending = {w for w in pending if (name, w) not in MARKS.at}
        await asyncio.sleep(0.05)
    return not pending


async def react(
    handle: WorkflowHandle[Any, Any], signal: Callable[[], Awaitable[None]], timeout: float = 30
) -> float:
    """Seconds from sending the signal to the start of the next activity."""
    arrived = MARKS.expect("reaction", handle.id)
    t0 = time.perf_counter()
    await signal()
    await asyncio.wait_for(arrived.wait(), timeout)
    return MARKS.at[("reaction", handle.id)] - t0


# After each sample, the sequence runs to its end and the worker idles this long. Signals
# sent back to back meet a throttle of this server and SDK: after about eight, every reaction
# here took 45-50 ms more, on the floor as on Follow-through (with 0.1 s between them, none).
SAMPLE_GAP = 0.1


async def react_alone(
    handle: WorkflowHandle[Any, Any], signal: Callable[[], Awaitable[None]]
) -> float:
    """`react`, then the sequence's remaining steps run to its end and `SAMPLE_GAP` passes
    before the next sample: each signal meets an idle worker and server, as a family's reply
    does, not the previous sample's sequence still finishing or a burst of signals."""
    seconds = await react(handle, signal)
    await handle.result()
    await asyncio.sleep(SAMPLE_GAP)
    return seconds


def responder(label: str, handle: WorkflowHandle[Any, Any]) -> Callable[[], Awaitable[None]]:
    if label == "floor":
        return lambda: handle.signal(FloorSequence.record_response, "answered")
    return lambda: handle.signal(
        "record_response", Response(channel=Channel.EMAIL, note="answered")
    )


def approver(label: str, handle: WorkflowHandle[Any, Any]) -> Callable[[], Awaitable[None]]:
    if label == "floor":
        return lambda: handle.signal(FloorApproval.approve, "bench")
    return lambda: handle.signal("approve", Decision(approver="bench", role="coordinator"))


async def reaction_latency(
    env: Env, label: str, start: Starter, samples: int, signal: Signaller = responder
) -> dict[str, Any]:
    """Sequences parked in a long wait (for a reply, or at an approval gate with
    `signal=approver`); one signal at a time."""
    kind = "A" if signal is approver else "L"
    ids = family_ids(f"{kind}{label[:2].upper()}{uuid.uuid4().hex[:4]}", samples)
    await add_families(env.store, ids)
    handles = await start_all(start, ids)
    if not await _wait_for("email", [h.id for h in handles], timeout=60 + samples):
        raise RuntimeError("sequences did not reach their wait in time")
    await asyncio.sleep(1.0)  # let the last workflow tasks settle: measure an idle worker
    return latency_summary([await react_alone(h, signal(label, h)) for h in handles])


async def scale(
    env: Env, n: int, max_cached_workflows: int | None, reaction_samples: int = 200
) -> dict[str, Any]:
    """N sequences asleep in a 7-day wait for a reply, with the sticky cache bounded."""
    ids = family_ids(f"S{uuid.uuid4().hex[:4]}", n)
    await add_families(env.store, ids)
    rss_before = rss_mb()
    params = bench_params(timedelta(days=7))
    running = bench_worker(env, max_cached_workflows=max_cached_workflows)
    cache = running.config().get("max_cached_workflows")
    async with running:
        t0 = time.perf_counter()
        handles = await start_all(follow_through(env, params), ids)
        started = time.perf_counter() - t0
        asleep = await _wait_for("email", [h.id for h in handles], timeout=120 + n / 5)
        settled = time.perf_counter() - t0
        await asyncio.sleep(1.0)
        rss_after = rss_mb()
        chosen = random.Random(5).sample(handles, min(reaction_samples, n))
        reaction = latency_summary([await react_alone(h, responder("ft", h)) for h in chosen])
    return {
        "sleeping": n,
        "all_asleep": asleep,
        "start_seconds": round(started, 2),
        "starts_per_second": round(n / started, 1),
        "asleep_after_seconds": round(settled, 1),
        "max_cached_workflows": cache,
        "worker_rss_mb_before": round(rss_before, 1),
        "worker_rss_mb": round(rss_after, 1),
        "server_rss_mb": round(rss_mb(env.server_process), 1),
        "reaction": reaction,
    }


async def bulk_trigger(env: Env, n: int, concurrency: int = CONCURRENCY) -> dict[str, Any]:
    """N predictions through `predict_many` (`triggers.predict` with a `TriggerCache`) vs a
    bare `start_workflow` loop, same server.

    No worker polls the queue: this measures starting, not running.
    """
    idle_queue = f"bench-idle-{uuid.uuid4().hex[:6]}"
    params = bench_params(timedelta(days=7))
    await env.store.templates.save(params)
    bare_ids = family_ids("BB", n)
    t0 = time.perf_counter()
    await start_all(floor(env, timedelta(days=7), idle_queue), bare_ids, concurrency)
    bare = time.perf_counter() - t0

    ids = family_ids("BP", n)
    await add_families(env.store, ids)
    # The bulk path: one `TriggerCache` for the run, `concurrency` predictions at a time.
    t0 = time.perf_counter()
    outcomes = await predict_many(
        env.client,
        env.store,
        (PredictionInput(family_id, 0.9, 90.0) for family_id in ids),
        task_queue=idle_queue,
        concurrency=concurrency,
    )
    trigger = time.perf_counter() - t0
    return {
        "predictions": n,
        "path": "predict_many",
        "started": sum(isinstance(o, triggers.TriggerOutcome) and o.started for o in outcomes),
        "concurrency": concurrency,
        "trigger_seconds": round(trigger, 2),
        "trigger_per_second": round(n / trigger, 1),
        "bare_seconds": round(bare, 2),
        "bare_per_second": round(n / bare, 1),
        "ratio": round(bare / trigger, 3),
    }


async def time_skipping(env: Env, days: int = 30) -> dict[str, Any]:
    """A sequence whose wait for a reply is `days` long, under the time-skipping test server."""
    from temporalio.api.enums.v1 import IndexedValueType
    from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest

    kinds = {
        "Keyword": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
        "Int": IndexedValueType.INDEXED_VALUE_TYPE_INT,
        "Double": IndexedValueType.INDEXED_VALUE_TYPE_DOUBLE,
    }
    ids = family_ids("TS", 1)
    await add_families(env.store, ids)
    t0 = time.perf_counter()
    ts = await WorkflowEnvironment.start_time_skipping(
        data_converter=pydantic_data_converter,
        test_server_existing_path=find_binary("temporal-test-server"),
    )
    async with ts:
        await ts.client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(
                namespace="default",
                search_attributes={k: kinds[v] for k, v in SEARCH_ATTRIBUTES.items()},
            )
        )
        up = time.perf_counter() - t0
        queue = f"bench-ts-{uuid.uuid4().hex[:6]}"
        async with bench_worker(env, client=ts.client, task_queue=queue):
            t1 = time.perf_counter()
            outcome = await triggers.start_sequence(
                ts.client, bench_params(timedelta(days=days)), ids[0], task_queue=queue
            )
            assert outcome.handle is not None
            result = await outcome.handle.result()
            run = time.perf_counter() - t1
    return {
        "days": days,
        "outcome": result.outcome,
        "server_start_seconds": round(up, 2),
        "sequence_seconds": round(run, 2),
        "total_seconds": round(time.perf_counter() - t0, 2),
    }
