"""`python -m bench`: one run, one embedded server, every figure side by side.

Prints the table and writes the same as JSON under bench/results/.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import subprocess
import sys
import time
import traceback
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psutil

from bench import harness, measures
from bench.first_contact import first_contact
from bench.harness import bench_worker, environment
from bench.report import render
from bench.sequences import bench_approval_params, bench_params, bench_template_params

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
PHASES = (
    "throughput",
    "latency",
    "approval",
    "firstcontact",
    "bulk",
    "scale",
    "timeskip",
    "dbos",
)


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--sequences", type=int, default=300, help="throughput: sequences")
    parser.add_argument("--latency-samples", type=int, default=200, help="reaction samples")
    parser.add_argument("--sleeping", type=int, default=10_000, help="scale: sleeping sequences")
    parser.add_argument("--bulk", type=int, default=10_000, help="bulk trigger: predictions")
    parser.add_argument(
        "--first-contact",
        type=int,
        default=10_000,
        help="first contact: predictions imported (50000 for the larger run)",
    )
    parser.add_argument(
        "--max-cached",
        type=int,
        default=None,
        help="scale and first contact: sticky cache (default: worker.py's)",
    )
    parser.add_argument(
        "--runner",
        choices=harness.RUNNERS,
        default=harness.runner,
        help="workflow runner: passthrough (as worker.py), sandbox (Temporal's default), none",
    )
    parser.add_argument("--no-dbos", action="store_true", help="skip the DBOS peer")
    parser.add_argument(
        "--no-floor-first-contact",
        action="store_true",
        help="first contact: skip bare Temporal's run of the same batch",
    )
    parser.add_argument(
        "--quick", action="store_true", help="small N everywhere (50/50/1000/500/1000)"
    )
    parser.add_argument(
        "--only",
        default="",
        help="comma-separated: " + ",".join(PHASES),
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.sequences, args.latency_samples = 50, 50
        args.sleeping, args.bulk, args.first_contact = 1000, 500, 1000
    return args


def machine() -> dict[str, Any]:
    """What the figures ran on, and what else was running at the time."""
    busy = []
    for proc in psutil.process_iter(["pid", "name", "cmdline"]):
        try:
            proc.cpu_percent(None)
            busy.append(proc)
        except psutil.Error:
            pass
    time.sleep(1.0)
    top = []
    for proc in busy:
        with contextlib.suppress(psutil.Error):
            top.append((proc.cpu_percent(None), " ".join(proc.info["cmdline"] or [])[:80]))
    top.sort(reverse=True)
    return {
        "nproc": os.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "busiest_processes": [f"{cpu:.0f}% {cmd}" for cpu, cmd in top[:5] if cpu > 5],
    }


async def phase(results: dict[str, Any], name: str, work: Callable[[], Awaitable[Any]]) -> None:
    print(f"... {name}", file=sys.stderr, flush=True)
    t0 = time.perf_counter()
    try:
        results[name] = await work()
    except Exception as err:  # one failing measure must not lose the others
        traceback.print_exc()
        results[name] = {"error": f"{type(err).__name__}: {err}"}
    print(f"    {name}: {time.perf_counter() - t0:.1f}s", file=sys.stderr, flush=True)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    wanted = set(filter(None, args.only.split(","))) or set(PHASES)
    if args.no_dbos:
        wanted.discard("dbos")
    results: dict[str, Any] = {"args": vars(args), "machine_before": machine()}
    second, week = timedelta(seconds=1), timedelta(days=7)
    async with environment() as env:
        async with bench_worker(env):
            if "throughput" in wanted:
                ft = measures.follow_through(env, bench_params(second))
                fl = measures.floor(env, second)
                await phase(
                    results,
                    "throughput_floor",
                    lambda: measures.throughput(env, "floor", fl, args.sequences),
                )
                await phase(
                    results,
                    "throughput_ft",
                    lambda: measures.throughput(env, "ft", ft, args.sequences),
                )
                as_data = bench_template_params(second)
                if as_data is not None:
                    td = measures.follow_through(env, as_data)
                    await phase(
                        results,
                        "throughput_template",
                        lambda: measures.throughput(env, "td", td, args.sequences),
                    )
                # The floor again: each phase leaves the server with more closed workflows,
                # so a floor run only first would favour it. Ratios use the two floors' mean.
                await phase(
                    results,
                    "throughput_floor_after",
                    lambda: measures.throughput(env, "floor2", fl, args.sequences),
                )
            if "latency" in wanted:
                ft = measures.follow_through(env, bench_params(week))
                fl = measures.floor(env, week)
                await phase(
                    results,
                    "latency_floor",
                    lambda: measures.reaction_latency(env, "floor", fl, args.latency_samples),
                )
                await phase(
                    results,
                    "latency_ft",
                    lambda: measures.reaction_latency(env, "ft", ft, args.latency_samples),
                )
            if "approval" in wanted:
                ft = measures.follow_through(env, bench_approval_params())
                fl = measures.floor_approval(env, week)
                await phase(
                    results,
                    "approval_floor",
                    lambda: measures.reaction_latency(
                        env, "floor", fl, args.latency_samples, measures.approver
                    ),
                )
                await phase(
                    results,
                    "approval_ft",
                    lambda: measures.reaction_latency(
                        env, "ft", ft, args.latency_samples, measures.approver
                    ),
                )
        if "firstcontact" in wanted:  # before `bulk`, whose template it must outrank alone
            await phase(
                results,
                "first_contact",
                lambda: first_contact(
                    env,
                    args.first_contact,
                    args.max_cached,
                    with_floor=not args.no_floor_first_contact,
                ),
            )
        if "bulk" in wanted:
            await phase(results, "bulk", lambda: measures.bulk_trigger(env, args.bulk))
        if "scale" in wanted:
            await phase(
                results, "scale", lambda: measures.scale(env, args.sleeping, args.max_cached)
            )
        if "timeskip" in wanted:
            await phase(results, "timeskip", lambda: measures.time_skipping(env))
    if "dbos" in wanted:
        await phase(results, "dbos", lambda: dbos(args))
    results["machine_after"] = machine()
    return results


async def dbos(args: argparse.Namespace) -> dict[str, Any]:
    """The peer in its own process (DBOS is a process-wide singleton), polling at 10 ms:
    its SQLite default of 1 s would make every reaction take a second."""
    cmd = [
        sys.executable,
        "-m",
        "bench.peer_dbos",
        "--sequences",
        str(args.sequences),
        "--latency-samples",
        str(args.latency_samples),
        "--poll",
        "0.01",
    ]
    proc = await asyncio.create_subprocess_exec(*cmd, stdout=subprocess.PIPE, cwd=ROOT)
    out, _ = await asyncio.wait_for(proc.communicate(), timeout=1800)
    if proc.returncode != 0:
        raise RuntimeError(f"DBOS peer exited {proc.returncode}")
    result: dict[str, Any] = json.loads(out.decode().strip().splitlines()[-1])
    return result


def main(argv: list[str] | None = None) -> None:
    args = parse(argv)
    harness.runner = args.runner
    started, commit = datetime.now(UTC), _commit()
    results = asyncio.run(run(args))
    results["started_at"] = started.isoformat(timespec="seconds")
    results["commit"] = commit  # at the start: others may commit while it runs
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"run-{started:%Y%m%d-%H%M%S}-{os.getpid()}.json"
    path.write_text(json.dumps(results, indent=2) + "\n")
    print(render(results))
    print(f"\nwritten: {path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path}")


def _commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        )
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


if __name__ == "__main__":
    main()
