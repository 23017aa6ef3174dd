"""Where Follow-through's throughput goes: the same sequence with real and with no-op activities.

    .venv/bin/python -m bench.layers [N] [ROUNDS]      # default 300 sequences, 2 rounds

One embedded server and store (as `bench --only throughput`); per round, N `BenchIntervention`
sequences with the real activities, then N with the same activity names bound to no-ops, then
N floor sequences. What the no-op run costs above the floor is the workflow layer (search
attributes, summaries, typed payloads); what the real run costs above the no-op run is the
activities' own work (store transactions, rendering). Each line also splits this process's
CPU per sequence by thread: the event loop (`MainThread`), the store's threads, the SDK's core
(`tokio-rt-worker`) and its workflow thread (`temporal_workflow`).
"""

from __future__ import annotations

import asyncio
import collections
import os
import sys
import threading
from datetime import timedelta
from typing import Any

from temporalio import activity

from bench import measures
from bench.floor import FLOOR_ACTIVITIES
from bench.harness import bench_worker, environment
from bench.marks import MARKS
from bench.sequences import bench_params
from contracts import (
    Channel,
    FamilyContext,
    FamilyContextRequest,
    SendRequest,
    SendResult,
    StepOutcome,
    TaskRequest,
    TaskResult,
)


@activity.defn(name="send_email")
async def send_email(request: SendRequest) -> SendResult:
    MARKS.hit("email", activity.info().workflow_id)
    return SendResult(message_id="noop", provider="noop")


@activity.defn(name="send_sms")
async def send_sms(request: SendRequest) -> SendResult:
    MARKS.hit("reaction", activity.info().workflow_id)
    return SendResult(message_id="noop", provider="noop")


@activity.defn(name="open_task")
async def open_task(request: TaskRequest) -> TaskResult:
    return TaskResult(task_id=1)


@activity.defn(name="load_family_context")
async def load_family_context(request: FamilyContextRequest) -> FamilyContext:
    channels = [Channel.EMAIL, Channel.SMS, Channel.CALL]
    return FamilyContext(family_id=request.family_id, timezone="UTC", channels=channels)


@activity.defn(name="record_steps")
async def record_steps(requests: list[StepOutcome]) -> None:
    return None


NO_OPS = [send_email, send_sms, open_task, load_family_context, record_steps]


def thread_cpu() -> dict[str, float]:
    """CPU seconds of this process's threads so far, by name (Python's where it has one)."""
    named = {thread.native_id: thread.name for thread in threading.enumerate()}
    tick = os.sysconf("SC_CLK_TCK")
    seconds: dict[str, float] = collections.defaultdict(float)
    for task in os.listdir("/proc/self/task"):
        try:
            with (
                open(f"/proc/self/task/{task}/stat") as stat,
                open(f"/proc/self/task/{task}/comm") as comm,
            ):
                fields, name = stat.read(), comm.read().strip()
        except OSError:
            continue  # the thread ended meanwhile
        utime, stime = fields[fields.rindex(")") + 2 :].split()[11:13]
        name = named.get(int(task), name).rstrip("0123456789_-")
        seconds[name] += (int(utime) + int(stime)) / tick
    return dict(seconds)


async def measured(env: Any, label: str, start: Any, n: int) -> dict[str, Any]:
    """`measures.throughput`, plus `threads`: this process's CPU ms per sequence by thread."""
    before = thread_cpu()
    result = await measures.throughput(env, label, start, n)
    after = thread_cpu()
    spent = {name: after[name] - before.get(name, 0.0) for name in after}
    ordered = sorted(spent.items(), key=lambda item: -item[1])
    result["threads"] = {name: round(1000 * s / n, 1) for name, s in ordered if s > 0}
    return result


async def one_round(n: int) -> list[tuple[str, dict[str, Any]]]:
    second = timedelta(seconds=1)
    results = []
    for label, activities in (("real", None), ("no-op", [*NO_OPS, *FLOOR_ACTIVITIES])):
        async with environment() as env:
            options: dict[str, Any] = {} if activities is None else {"activities": activities}
            async with bench_worker(env, **options):
                start = measures.follow_through(env, bench_params(second))
                await measures.throughput(env, "warm", start, 20)
                results.append((label, await measured(env, label, start, n)))
                if activities is None:
                    floor = measures.floor(env, second)
                    results.append(("floor", await measured(env, "fl", floor, n)))
    return results


async def main(n: int, rounds: int) -> None:
    for round_number in range(1, rounds + 1):
        for label, r in await one_round(n):
            print(
                f"round {round_number} {label:6s} {r['per_second']:6.2f}/s  events "
                f"{r['history_events']}  server {r['server_cpu_ms_per_sequence']} ms  "
                f"worker {r['worker_cpu_ms_per_sequence']} ms per sequence",
                flush=True,
            )
            split = ", ".join(f"{name} {ms}" for name, ms in r["threads"].items() if ms >= 0.5)
            print(f"        by thread (ms per sequence): {split}", flush=True)


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:3]]
    asyncio.run(main(*(args + [300, 2][len(args) :])))
