"""`python -m bench.rates`: a provider rate limit holds across worker processes.

An embedded server, N first emails of the high-risk sequence started at once (families in
their daytime), then two `worker.py` processes with EMAIL_RATE_PER_SECOND set and an HTTP
email provider that notes when each message arrives. Prints the busiest one-second window and
the average rate the provider saw (targets: within 10% of the rate, and at or under it), and
whether every send reached the provider and the outbox once (nothing dropped).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from sqlalchemy import select
from temporalio.api.enums.v1 import RateLimitSource, TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest

from bench.harness import Env, add_families, environment
from bench.measures import family_ids, follow_through, start_all
from contracts import Channel, QuietHours, channels
from followthrough.templates import builtin_templates
from store.models import Message

ROOT = Path(__file__).resolve().parent.parent
QUEUE = "bench-rates"


class Arrivals:
    """What the provider saw: when each message arrived, under which key, from which worker."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.times: list[float] = []
        self.keys: list[str] = []
        self.senders: Counter[str] = Counter()

    def add(self, key: str, sender: str) -> None:
        with self.lock:
            self.times.append(time.time())
            self.keys.append(key)
            self.senders[sender] += 1


@contextmanager
def email_provider(arrivals: Arrivals) -> Iterator[str]:
    """A Postmark-style email API on a free local port that accepts everything; its URL."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as a real API

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            key = self.headers.get("Idempotency-Key", "")
            arrivals.add(key, body.get("From", ""))
            answer = json.dumps({"MessageID": key}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/email"
    finally:
        server.shutdown()


def daytime_zone(now: datetime) -> str:
    """A fixed-offset zone where it is about noon now, so the run is inside allowed hours."""
    offset = 12 - now.astimezone(UTC).hour
    offset = offset - 24 if offset > 14 else offset + 24 if offset < -12 else offset
    # POSIX-style names: Etc/GMT-3 is three hours ahead of UTC.
    return "Etc/GMT" if offset == 0 else f"Etc/GMT{'-' if offset > 0 else '+'}{abs(offset)}"


def busiest_window(times: list[float], width: float = 1.0) -> int:
    """The most arrivals in any window of `width` seconds."""
    ordered, best, first = sorted(times), 0, 0
    for last, at in enumerate(ordered):
        while at - ordered[first] >= width:
            first += 1
        best = max(best, last - first + 1)
    return best


def start_workers(env: Env, rate: float, url: str, count: int) -> list[subprocess.Popen[bytes]]:
    """`count` worker.py processes on this run's server and store, at `rate` emails a second."""
    workers = []
    for number in range(1, count + 1):
        variables = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(env.workdir),  # no developer's temporal.toml
            "TEMPORAL_ADDRESS": env.server.address,
            "TEMPORAL_TASK_QUEUE": QUEUE,
            "DATABASE_URL": f"sqlite+aiosqlite:///{env.workdir / 'store.db'}",
            "EMAIL_PROVIDER": "http",
            "EMAIL_API_URL": url,
            "EMAIL_API_TOKEN": "bench",
            "EMAIL_FROM": f"worker{number}@bench.local",
            channels.spec(Channel.EMAIL).rate_variable: str(rate),
        }
        log = open(env.workdir / f"worker{number}.log", "wb")  # noqa: SIM115 - the child's
        workers.append(
            subprocess.Popen(
                [sys.executable, "worker.py"], cwd=ROOT, env=variables, stdout=log, stderr=log
            )
        )
    return workers


async def server_rate(env: Env) -> str:
    """The email queue's rate limit as the server reports it, and where it came from."""
    described = await env.client.workflow_service.describe_task_queue(
        DescribeTaskQueueRequest(
            namespace=env.client.namespace,
            task_queue=TaskQueue(name=channels.spec(Channel.EMAIL).send_queue(QUEUE)),
            task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
            report_config=True,
        )
    )
    limit = described.effective_rate_limit
    source = RateLimitSource.Name(limit.rate_limit_source).removeprefix("RATE_LIMIT_SOURCE_")
    return f"{limit.requests_per_second:g}/s set by {source.lower()}"


async def wait_for(arrivals: Arrivals, n: int, rate: float) -> bool:
    """Until the provider has seen `n` messages, or well past when it should have."""
    deadline = time.monotonic() + 120 + 2 * n / rate
    seen, said = 0, time.monotonic()
    while time.monotonic() < deadline:
        seen = len(arrivals.times)
        if seen >= n:
            return True
        if time.monotonic() - said >= 30:
            print(f"    {seen}/{n} emails at the provider", file=sys.stderr, flush=True)
            said = time.monotonic()
        await asyncio.sleep(0.5)
    return False


async def measure(n: int = 10_000, rate: float = 20.0, processes: int = 2) -> dict[str, Any]:
    """N first emails through `processes` workers limited to `rate`: what the provider saw."""
    arrivals = Arrivals()
    async with environment() as env:
        zone = daytime_zone(datetime.now(UTC))
        ids = family_ids(f"R{uuid.uuid4().hex[:4]}", n)
        await add_families(env.store, ids, timezones=(zone,))
        template = next(t for t in builtin_templates() if t.name == "high_risk_intervention")
        params = template.model_copy(
            update={"max_active": None, "quiet_hours": QuietHours(weekends=False)}
        )
        t0 = time.perf_counter()
        await start_all(follow_through(env, params, QUEUE), ids)
        started = time.perf_counter() - t0
        with email_provider(arrivals) as url:
            workers = start_workers(env, rate, url, processes)
            try:
                finished = await wait_for(arrivals, n, rate)
                limit = await server_rate(env)
            finally:
                for worker in workers:
                    worker.send_signal(signal.SIGTERM)
                for worker in workers:
                    worker.wait(timeout=60)
        async with env.store.sessions() as session:
            # When the server handed each send to a worker (the activity's start).
            dispatched = [
                at.replace(tzinfo=UTC).timestamp()
                for at in await session.scalars(
                    select(Message.created_at).where(
                        Message.channel == "email", Message.status == "sent"
                    )
                )
            ]
    times = sorted(arrivals.times)
    span = times[-1] - times[0] if len(times) > 1 else float("nan")
    return {
        "emails": n,
        "rate_per_second": rate,
        "worker_processes": processes,
        "family_zone": zone,
        "start_seconds": round(started, 1),
        "all_arrived": finished,
        "arrived": len(times),
        "distinct_keys": len(set(arrivals.keys)),
        "recorded_sent": len(dispatched),
        "by_worker": dict(sorted(arrivals.senders.items())),
        "busiest_second": busiest_window(times),
        "busiest_second_dispatched": busiest_window(dispatched),
        "average_per_second": round((len(times) - 1) / span, 2),
        "seconds": round(span, 1),
        "server_rate_limit": limit,
    }


def report(r: dict[str, Any]) -> list[str]:
    """The figures with their targets and verdicts."""
    rate = r["rate_per_second"]

    def verdict(ok: bool) -> str:
        return "ok" if ok else "MISSED"

    busiest, average = r["busiest_second"], r["average_per_second"]
    whole = r["arrived"] == r["distinct_keys"] == r["recorded_sent"] == r["emails"]
    return [
        f"{r['emails']} first emails, EMAIL_RATE_PER_SECOND={rate:g}, "
        f"{r['worker_processes']} worker processes (sends by worker: {r['by_worker']}); "
        f"server's limit on the email queue: {r['server_rate_limit']}",
        f"  busiest one-second window  {busiest:>8}/s  target <= {1.1 * rate:g}/s  "
        f"{verdict(busiest <= 1.1 * rate)}",
        f"    (as Temporal handed them out: {r['busiest_second_dispatched']}/s; the store's "
        "slots space the calls)",
        f"  average over {r['seconds']:>7} s  {average:>8}/s  target <= {rate:g}/s  "
        f"{verdict(average <= rate)}",
        f"  reached the provider {r['arrived']}, distinct {r['distinct_keys']}, "
        f"recorded sent {r['recorded_sent']}: nothing dropped  {verdict(whole)}",
        f"  (the {r['emails']} starts took {r['start_seconds']} s, before the workers began)",
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.rates", description=__doc__)
    parser.add_argument("-n", type=int, default=10_000, help="first emails (default 10,000)")
    parser.add_argument("--rate", type=float, default=20.0, help="emails per second (20)")
    parser.add_argument("--processes", type=int, default=2, help="worker processes (2)")
    args = parser.parse_args(argv)
    result = asyncio.run(measure(args.n, args.rate, args.processes))
    print("\n".join(report(result)))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
