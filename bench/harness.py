"""What every measurement stands on: an embedded server, a store, a worker, process figures."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock

import httpx
import psutil
from sqlalchemy import insert
from temporalio import activity
from temporalio.client import Client
from temporalio.worker import UnsandboxedWorkflowRunner, Worker, WorkflowRunner
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

import worker
from bench.floor import FLOOR_ACTIVITIES, FloorApproval, FloorSequence
from bench.marks import MARKS
from bench.sequences import BenchApproval, BenchIntervention, template_workflows
from contracts import SendRequest, SendResult, channels
from followthrough.platform.connection import connect
from followthrough.platform.devserver import DevServer, free_port
from followthrough.platform.send_queues import Workers, send_workers
from followthrough.platform.settings import Settings
from store import Family, Store, migrate

TASK_QUEUE = "bench"

# How the bench's worker runs workflow code (`python -m bench --runner`): `passthrough` as
# `worker.py` does (our `workflows` package and the bench's module passed through the
# sandbox), `sandbox` Temporal's default (each workflow module imported afresh per run),
# `none` without a sandbox.
RUNNERS = ("passthrough", "sandbox", "none")
runner = "passthrough"


def workflow_runner(name: str) -> WorkflowRunner:
    if name == "sandbox":
        return SandboxedWorkflowRunner()
    if name == "none":
        return UnsandboxedWorkflowRunner()
    return worker.workflow_runner("bench")  # the floor's module too


@dataclass
class Env:
    """One run's server, client, store and scratch directory."""

    server: DevServer
    client: Client
    store: Store
    http: httpx.AsyncClient
    workdir: Path

    @property
    def server_process(self) -> psutil.Process:
        assert self.server.process is not None
        return psutil.Process(self.server.process.pid)


@asynccontextmanager
async def environment(keep: Path | None = None) -> AsyncIterator[Env]:
    """A fresh embedded dev server on free ports and a migrated SQLite store; both torn down."""
    with tempfile.TemporaryDirectory(prefix="bench-", dir=keep) as tmp:
        workdir = Path(tmp)
        server = DevServer(workdir / "temporal.db", port=free_port(), ui_port=None)
        await server.start()
        try:
            client = await _connect(server.address)
            url = f"sqlite+aiosqlite:///{workdir / 'store.db'}"
            await migrate(url)
            store = Store.from_url(url)
            async with httpx.AsyncClient() as http:
                try:
                    yield Env(server, client, store, http, workdir)
                finally:
                    await store.close()
        finally:
            server.stop()


async def _connect(address: str) -> Client:
    settings = Settings(temporal_address=address)
    for _ in range(100):
        try:
            return await connect(settings)
        except RuntimeError:
            await asyncio.sleep(0.1)
    return await connect(settings)


async def add_families(
    store: Store, ids: list[str], *, timezones: Sequence[str] = ("UTC",)
) -> None:
    """Families in bulk (one statement per chunk), their time zones taken in turn from
    `timezones`: adding them is not what is measured."""
    rows = [
        {
            "family_id": family_id,
            "name": f"Family {family_id}",
            "email": f"{family_id.lower()}@example.org",
            "phone": "+15550100000",
            "timezone": timezones[i % len(timezones)],
            "opted_out": [],
            "attributes": {},
        }
        for i, family_id in enumerate(ids)
    ]
    for start in range(0, len(rows), 2000):
        async with store.sessions.begin() as session:
            await session.execute(insert(Family), rows[start : start + 2000])


def bench_worker(
    env: Env,
    *,
    client: Client | None = None,
    task_queue: str = TASK_QUEUE,
    max_cached_workflows: int | None = None,
    workflows: list[type] | None = None,
    **options: Any,
) -> Workers:
    """The workers `worker.build_worker` builds (real activities, outbox providers, the SQLite
    store), serving the bench's workflows, with timing marks on email and SMS and the floor's
    no-op activities added."""
    settings = Settings(task_queue=task_queue)
    # Borrow build_worker's wiring without letting it register a worker of its own.
    with (
        mock.patch.object(worker, "Worker", _Captured),
        mock.patch.object(worker, "send_workers"),
        mock.patch.object(worker, "Workers"),
    ):
        worker.build_worker(
            client or env.client,
            env.store,
            env.http,
            settings,
        )
    built = _Captured.last
    config: dict[str, Any] = {**built.kwargs}
    activities: list[Callable[..., Any]] = [*FLOOR_ACTIVITIES]
    for fn in config.get("activities", []):
        name = getattr(fn, "__name__", "")
        activities.append(_marked(fn, name) if name in _MARKS_BY_ACTIVITY else fn)
    config["activities"] = activities
    config["workflow_runner"] = workflow_runner(runner)
    config["workflows"] = [
        BenchIntervention,
        BenchApproval,
        FloorSequence,
        FloorApproval,
        *template_workflows(),
        *(workflows or []),
    ]
    if max_cached_workflows is not None:  # else the bound worker.py sets
        config["max_cached_workflows"] = max_cached_workflows
    config.update(options)
    # Each channel's send (as marked, or as `options` replaced it) on its send queue, unlimited.
    named = {getattr(fn, "__name__", ""): fn for fn in config["activities"]}
    sends = {
        entry.channel: named[entry.activity]
        for entry in channels.message_channels()
        if entry.activity in named
    }
    return Workers(
        Worker(*built.args, **config), send_workers(built.args[0], task_queue, sends, {})
    )


class _Captured:
    last: _Captured

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.args, self.kwargs = args, kwargs
        _Captured.last = self


# Which mark an activity leaves, and whether before it runs (reaction) or after (done).
_MARKS_BY_ACTIVITY = {"send_email": ("email", False), "send_sms": ("reaction", True)}


def _marked(fn: Callable[..., Awaitable[Any]], name: str) -> Callable[..., Awaitable[Any]]:
    mark, before = _MARKS_BY_ACTIVITY[name]

    async def marked(request: SendRequest) -> SendResult:
        if before:
            MARKS.hit(mark, activity.info().workflow_id)
        result: SendResult = await fn(request)
        if not before:
            MARKS.hit(mark, activity.info().workflow_id)
        return result

    marked.__name__ = name  # the name its send queue's worker finds it by
    return activity.defn(name=name)(marked)


def rss_mb(process: psutil.Process | None = None) -> float:
    """Resident set size in MiB (VmRSS), of this process unless another is named."""
    return (process or psutil.Process()).memory_info().rss / 2**20


def cpu_seconds(process: psutil.Process | None = None) -> float:
    times = (process or psutil.Process()).cpu_times()
    return float(times.user + times.system)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def latency_summary(seconds: list[float]) -> dict[str, float]:
    ms = [s * 1000 for s in seconds]
    return {
        "samples": len(ms),
        "p50_ms": round(percentile(ms, 0.50), 1),
        "p95_ms": round(percentile(ms, 0.95), 1),
        "max_ms": round(max(ms), 1) if ms else float("nan"),
    }
