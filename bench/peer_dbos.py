"""The peer: the same 4-step sequence on DBOS (SQLite system database, in-process).

Run as its own process (`python -m bench.peer_dbos`), because DBOS is a process-wide
singleton; it prints one JSON object. Steps are no-ops, like the floor's activities: this
is DBOS's best case for the shape, not a port of Follow-through's store writes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from dbos import DBOS, DBOSConfig, SetWorkflowID

from bench.harness import cpu_seconds, latency_summary
from bench.marks import MARKS


@DBOS.step()
async def email_step(family_id: str) -> str:
    MARKS.hit("email", DBOS.workflow_id or "")
    return family_id


@DBOS.step()
async def sms_step(family_id: str) -> str:
    MARKS.hit("reaction", DBOS.workflow_id or "")
    return family_id


@DBOS.step()
async def task_step(family_id: str) -> str:
    return family_id


@DBOS.workflow()
async def sequence(family_id: str, wait_seconds: float) -> str:
    await email_step(family_id)
    await DBOS.recv_async("reply", timeout_seconds=wait_seconds)
    await sms_step(family_id)
    await task_step(family_id)
    return "done"


async def _start(prefix: str, n: int, wait: float) -> list[Any]:
    gate = asyncio.Semaphore(100)

    async def one(i: int) -> Any:
        async with gate:
            with SetWorkflowID(f"{prefix}-{i}"):
                return await DBOS.start_workflow_async(sequence, f"{prefix}-{i}", wait)

    return list(await asyncio.gather(*(one(i) for i in range(n))))


async def throughput(n: int) -> dict[str, Any]:
    cpu0, t0 = cpu_seconds(), time.perf_counter()
    handles = await _start("tp", n, 1.0)
    await asyncio.gather(*(h.get_result() for h in handles))
    elapsed = time.perf_counter() - t0
    return {
        "sequences": n,
        "seconds": round(elapsed, 2),
        "per_second": round(n / elapsed, 2),
        "cpu_ms_per_sequence": round((cpu_seconds() - cpu0) * 1000 / n, 1),
    }


async def latency(samples: int) -> dict[str, Any]:
    handles = await _start("lat", samples, 86400.0)
    ids = [h.get_workflow_id() for h in handles]
    for _ in range(20 * (60 + samples)):  # bounded: at most 60 s + 1 s per sample
        if all(("email", w) in MARKS.at for w in ids):
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(1.5)  # the recv calls are parked
    seconds = []
    for workflow_id in ids:
        arrived = MARKS.expect("reaction", workflow_id)
        t0 = time.perf_counter()
        await DBOS.send_async(workflow_id, "answered", topic="reply")
        await asyncio.wait_for(arrived.wait(), 30)
        seconds.append(MARKS.at[("reaction", workflow_id)] - t0)
    await asyncio.gather(*(h.get_result() for h in handles))
    return latency_summary(seconds)


async def main(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-dbos-") as tmp:
        config: DBOSConfig = {
            "name": "bench-peer",
            "system_database_url": f"sqlite:///{Path(tmp) / 'dbos.sqlite'}",
            "log_level": "WARNING",
        }
        if args.poll is not None:
            config["notification_listener_polling_interval_sec"] = args.poll
        DBOS(config=config)
        DBOS.launch()
        try:
            result = {
                "version": _version(),
                "polling_interval_s": args.poll if args.poll is not None else 1.0,
                "throughput": await throughput(args.sequences),
                "reaction": await latency(args.latency_samples),
            }
        finally:
            DBOS.destroy()
    return result


def _version() -> str:
    from importlib.metadata import version

    return version("dbos")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sequences", type=int, default=300)
    parser.add_argument("--latency-samples", type=int, default=200)
    parser.add_argument("--poll", type=float, default=None, help="DBOS polling interval, s")
    print(json.dumps(asyncio.run(main(parser.parse_args()))))
