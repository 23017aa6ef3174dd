"""Where the bulk trigger's time goes: bare starts, `start_sequence` alone, `predict_many`.

    .venv/bin/python -m bench.bulk_parts [N] [ROUNDS]      # default 1000 predictions, 3 rounds

One embedded server and store (as `bench --only bulk`), no worker; per round, N starts of
each kind, 100 at a time, one after another: the floor's bare `client.start_workflow`
(what `bench` compares against), `triggers.start_sequence` with the bench template and a
prediction (the same start `predict_many` makes, without the store or any check), and
`predict_many`. Prints rates, their ratio to the bare starts, and this process's CPU per
start (main thread, the SDK's threads and the SQLite thread together).
"""

from __future__ import annotations

import asyncio
import resource
import sys
import time
from datetime import timedelta
from typing import Any

from bench.harness import add_families, environment
from bench.measures import family_ids, floor, start_all
from bench.sequences import bench_params
from contracts import PredictionRef
from followthrough.triggers import start as triggers
from followthrough.triggers.batch import PredictionInput, predict_many

QUEUE = "bench-idle-parts"


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def main(n: int, rounds: int) -> None:
    async with environment() as env:
        params = bench_params(timedelta(days=7))
        await env.store.templates.save(params)
        prediction = PredictionRef(prediction_id=1, probability=0.9, confidence=90.0)

        async def sequence(family_id: str) -> Any:
            outcome = await triggers.start_sequence(
                env.client,
                params,
                family_id,
                task_queue=QUEUE,
                check_limit=False,
                prediction=prediction,
                triggered_by="prediction",
            )
            return outcome.handle

        for number in range(rounds):
            timings = []
            t0, c0 = time.perf_counter(), _cpu()
            await start_all(floor(env, timedelta(days=7), QUEUE), family_ids(f"B{number}", n))
            timings.append(("bare", time.perf_counter() - t0, _cpu() - c0))
            t0, c0 = time.perf_counter(), _cpu()
            await start_all(sequence, family_ids(f"S{number}", n))
            timings.append(("start_sequence", time.perf_counter() - t0, _cpu() - c0))
            ids = family_ids(f"P{number}", n)
            await add_families(env.store, ids)
            t0, c0 = time.perf_counter(), _cpu()
            await predict_many(
                env.client,
                env.store,
                (PredictionInput(family_id, 0.9, 90.0) for family_id in ids),
                task_queue=QUEUE,
            )
            timings.append(("predict_many", time.perf_counter() - t0, _cpu() - c0))
            bare = timings[0][1]
            print(
                f"round {number + 1}: "
                + " | ".join(
                    f"{name} {n / wall:.0f}/s ({bare / wall:.2f}), cpu {1000 * cpu / n:.2f} ms"
                    for name, wall, cpu in timings
                ),
                flush=True,
            )


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:3]]
    asyncio.run(main(*(args + [1000, 3][len(args) :])))
