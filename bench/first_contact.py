"""Batch to first contact: predictions imported from a CSV file until every first email is out.

The import path is the CLI's (`triggers.imports.import_predictions`: the file read and
checked, then `predict_many`); the worker `bench_worker` builds runs meanwhile, in this
process. The families live in the time zones where it is now between 09:00 and 16:00, and the
template keeps quiet hours (20:00 to 08:00) and the default frequency caps, so each first
email is placed by the real timing rules and goes out at once. No rate limit is set.
"""

from __future__ import annotations

import asyncio
import csv
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.harness import TASK_QUEUE, Env, add_families, bench_worker, cpu_seconds, rss_mb
from bench.marks import MARKS
from bench.measures import floor, start_all
from bench.sequences import bench_params
from contracts import QuietHours, SequenceParams, workflow_id_for
from followthrough.triggers.imports import import_predictions

TEMPLATE = "bench_first_contact"


def daytime_zones(now: datetime) -> list[str]:
    """The `Etc/GMT` zones whose local time is now between 09:00 and 16:00 (a run of
    50,000 ends well before their quiet hours begin at 20:00)."""
    zones = []
    for offset in range(-12, 15):
        hour = (now.astimezone(UTC).hour + offset) % 24
        if 9 <= hour < 16:
            # POSIX signs: Etc/GMT-3 is three hours ahead of UTC.
            zones.append("Etc/UTC" if offset == 0 else f"Etc/GMT{-offset:+d}")
    return zones


def first_contact_params() -> SequenceParams:
    """The bench sequence as an import would pick it: not urgent, quiet hours kept (weekends
    not quiet, so the figure does not depend on the day), the highest priority of the bench's
    prediction templates."""
    return bench_params(timedelta(days=7)).model_copy(
        update={
            "name": TEMPLATE,
            "urgent": False,
            "priority": 10,
            "quiet_hours": QuietHours(weekends=False),
        }
    )


def write_predictions(path: Any, family_ids: list[str]) -> None:
    with open(path, "w", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(["family_id", "probability", "confidence", "model_version"])
        out.writerows([family_id, "0.9", "90", "bench"] for family_id in family_ids)


async def first_contact(
    env: Env,
    n: int,
    max_cached_workflows: int | None = None,
    timeout: float = 3600,
    *,
    with_floor: bool = True,
) -> dict[str, Any]:
    """N predictions through the CSV import with the worker running: wall time from the
    import's start until the last first email is recorded."""
    zones = daytime_zones(datetime.now(UTC))
    ids = [f"C{uuid.uuid4().hex[:4]}{i:06d}" for i in range(n)]
    await add_families(env.store, ids, timezones=zones)
    params = first_contact_params()
    await env.store.templates.save(params)
    path = env.workdir / f"predictions-{n}.csv"
    write_predictions(path, ids)
    wanted = {workflow_id_for(TEMPLATE, family_id) for family_id in ids}
    rss_before = rss_mb()
    running = bench_worker(env, max_cached_workflows=max_cached_workflows)
    cache = running.config().get("max_cached_workflows")
    server = env.server_process
    async with running:
        cpu0, server0, t0 = cpu_seconds(), cpu_seconds(server), time.perf_counter()
        report = await import_predictions(env.client, env.store, path, task_queue=TASK_QUEUE)
        imported = time.perf_counter() - t0
        done = await _all_emailed(wanted, timeout)
        cpu, server_cpu = cpu_seconds() - cpu0, cpu_seconds(server) - server0
        rss_after = rss_mb()
    last = max((MARKS.at.get(("email", w), t0) for w in wanted), default=t0)
    started = report.counts["started"]
    bare = await first_contact_floor(env, n, max_cached_workflows, timeout) if with_floor else None
    return {
        "floor": bare,
        "predictions": n,
        "started": started,
        "not_started": n - started,
        "zones": zones,
        "all_emailed": done,
        "import_seconds": round(imported, 1),
        "imports_per_second": round(n / imported, 1),
        "first_contact_seconds": round(last - t0, 1),
        "emails_per_second": round(n / (last - t0), 1) if last > t0 else None,
        "max_cached_workflows": cache,
        "process_cpu_ms_per_sequence": round(cpu * 1000 / n, 1),
        "server_cpu_ms_per_sequence": round(server_cpu * 1000 / n, 1),
        "worker_rss_mb_before": round(rss_before, 1),
        "worker_rss_mb": round(rss_after, 1),
        "server_rss_mb": round(rss_mb(server), 1),
    }


async def first_contact_floor(
    env: Env, n: int, max_cached_workflows: int | None = None, timeout: float = 3600
) -> dict[str, Any]:
    """The same batch as bare Temporal does it: N `FloorSequence`s (a no-op email activity on
    the workflow's own queue, then the wait) started by a plain `start_workflow` loop, the same
    worker running, until every email activity has run. What the server and the SDK alone
    cost per first contact on this machine: the floor under the figure above."""
    ids = [f"CF{uuid.uuid4().hex[:4]}{i:06d}" for i in range(n)]
    wanted = {f"floor-{family_id}" for family_id in ids}
    server = env.server_process
    async with bench_worker(env, max_cached_workflows=max_cached_workflows):
        cpu0, server0, t0 = cpu_seconds(), cpu_seconds(server), time.perf_counter()
        await start_all(floor(env, timedelta(days=7)), ids)
        started = time.perf_counter() - t0
        done = await _all_emailed(wanted, timeout)
        cpu, server_cpu = cpu_seconds() - cpu0, cpu_seconds(server) - server0
    last = max((MARKS.at.get(("email", w), t0) for w in wanted), default=t0)
    return {
        "sequences": n,
        "all_emailed": done,
        "start_seconds": round(started, 1),
        "first_contact_seconds": round(last - t0, 1),
        "process_cpu_ms_per_sequence": round(cpu * 1000 / n, 1),
        "server_cpu_ms_per_sequence": round(server_cpu * 1000 / n, 1),
    }


async def _all_emailed(workflow_ids: set[str], timeout: float) -> bool:
    """Whether every sequence's email went out within `timeout`; checked every 0.2 s."""
    pending = set(workflow_ids)
    deadline = time.monotonic() + timeout
    while pending and time.monotonic() < deadline:
        pending = {w for w in pending if ("email", w) not in MARKS.at}
        await asyncio.sleep(0.2)
    return not pending
