"""How fast the web app's pages and `followthrough stats` answer over many sequences.

    .venv/bin/python -m bench.web_pages [N] [E]    # default 10,000 sequences, E = N executions

A fresh embedded dev server on free ports and a SQLite store, in a temporary directory. E
sequences are started on a task queue no worker polls, so visibility holds E executions with
their search attributes (template, version, state; one in 100 awaiting approval, which the
inbox lists without a timeline) and none of them runs; the store gets what N
sequences over eight weeks leave behind: their starts, and audit rows (an email, the check
for a reply, an SMS when there was none, some calls) with step timing, for families in four
time zones. Then, signed in, each page is fetched through the app three times (the median is
printed), and `followthrough stats` runs as a user runs it (a new process). Nothing here is a
test: it prints.
"""

from __future__ import annotations

import asyncio
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import timeit
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import insert

from contracts import StepRef, StepTiming
from followthrough.platform.connection import connect
from followthrough.platform.devserver import DevServer, free_port
from followthrough.platform.settings import Settings
from followthrough.templates import builtin_templates
from followthrough.web.inbox import create_app
from followthrough.web.signin import hash_password
from store import Family, Store, migrate
from store.audit import step_for
from store.models import StepExecution
from store.starts import NewStart
from workflows.search_attributes import FAMILY_ID, STATE, TEMPLATE_NAME, TEMPLATE_VERSION

TEMPLATES = (("high_risk_intervention", 1), ("medium_risk_intervention", 1))
ZONES = ("UTC", "America/New_York", "Europe/Paris", "Asia/Tokyo")
STATES = ("completed",) * 6 + ("cancelled", "failed", "scheduled", "running")
# One execution in this many awaits approval: the inbox lists it (no worker reads its status).
AWAITING_EVERY = 100
PASSWORD = "bench password 123"
NOW = datetime(2026, 11, 27, 12, tzinfo=UTC)


def _rows(i: int, template: str, version: int) -> tuple[NewStart, list[StepExecution]]:
    """One sequence's start and audit rows; every third family answers its email."""
    family, workflow_id = f"B{i % 4000:05d}", f"intervention-{template}-B{i:05d}"
    started = NOW - timedelta(days=56) + timedelta(minutes=(i * 7919) % (56 * 24 * 60))
    start = NewStart(family, template, version, workflow_id, "bench", started)
    steps = [("first_email", "email", "sent", timedelta(0))]
    steps.append(("answered", "condition", str(i % 3 == 0), timedelta(hours=3 + i % 40)))
    if i % 3:
        steps.append(("first_sms", "sms", "sent", timedelta(days=2, hours=i % 9)))
        if i % 5 == 0:
            steps.append(("call", "call", f"task {i} opened", timedelta(days=4)))
    rows = []
    for step_id, kind, outcome, after in steps:
        at = started + after
        ref = StepRef(
            workflow_id=workflow_id,
            run_id=f"run-{i}",
            step_id=step_id,
            template=template,
            template_version=version,
            timing=StepTiming(due_at=at, started_at=at + timedelta(seconds=i % 90)),
        )
        channel = kind if kind in ("email", "sms") else None
        row = step_for(
            ref, family_id=family, kind=kind, outcome=outcome, attempts=1, channel=channel
        )
        row.created_at = at
        rows.append(row)
    return start, rows


@asynccontextmanager
async def environment() -> AsyncIterator[tuple[DevServer, Store, str, Path]]:
    """A dev server, a migrated store and its URL, in a directory removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="bench-web-") as tmp:
        workdir = Path(tmp)
        server = DevServer(workdir / "temporal.db", port=free_port(), ui_port=None)
        await server.start()
        url = f"sqlite+aiosqlite:///{workdir / 'store.db'}"
        try:
            await migrate(url)
            async with Store.from_url(url) as store:
                yield server, store, url, workdir
        finally:
            server.stop()


async def fill_store(store: Store, count: int) -> None:
    families = [
        {"family_id": f"B{i:05d}", "name": f"Family {i}", "timezone": ZONES[i % len(ZONES)],
         "opted_out": [], "attributes": {}}
        for i in range(min(count, 4000))
    ]  # fmt: skip
    async with store.sessions.begin() as session:
        await session.execute(insert(Family), families)
    for params in builtin_templates():
        await store.templates.save(params)
    await store.accounts.add("bench", hash_password(PASSWORD), "director")
    for first in range(0, count, 2000):
        starts, rows = [], []
        for i in range(first, min(first + 2000, count)):
            start, steps = _rows(i, *TEMPLATES[i % len(TEMPLATES)])
            starts.append(start)
            rows += steps
        await store.starts.add_many(starts)
        await store.steps.add_many(rows)


async def fill_visibility(client: object, count: int) -> None:
    """N executions on a queue no worker polls: they stay as started, attributes and all."""
    from temporalio.client import Client
    from temporalio.common import SearchAttributePair, TypedSearchAttributes

    assert isinstance(client, Client)
    queue = f"bench-idle-{os.getpid()}"

    async def one(i: int) -> None:
        template, version = TEMPLATES[i % len(TEMPLATES)]
        attributes = TypedSearchAttributes(
            [
                SearchAttributePair(
                    STATE,
                    "awaiting_approval" if i % AWAITING_EVERY == 3 else STATES[i % len(STATES)],
                ),
                SearchAttributePair(FAMILY_ID, f"B{i % 4000:05d}"),
                SearchAttributePair(TEMPLATE_NAME, template),
                SearchAttributePair(TEMPLATE_VERSION, version),
            ]
        )
        await client.start_workflow(
            "HighRiskIntervention",
            id=f"intervention-{template}-B{i:05d}",
            task_queue=queue,
            search_attributes=attributes,
        )

    for first in range(0, count, 200):
        await asyncio.gather(*(one(i) for i in range(first, min(first + 200, count))))


async def time_pages(app: object, sequence: str, rounds: int = 3) -> list[tuple[str, float, float]]:
    """Each page's median time and the median CPU this process spent on it (the app and its
    store threads, not the Temporal server), which other load on the machine changes less;
    `sequence` is one Temporal does not know (its query fails at once; with no worker, a known
    one would wait out the page's 3 s for an answer)."""
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as http:
        form = await http.get("/login")
        token = form.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        data = {"csrf_token": token, "name": "bench", "password": PASSWORD}
        await http.post("/login", data=data, follow_redirects=True)
        pages = [
            "/",
            "/dashboard",
            "/dashboard?template=medium_risk_intervention&version=1",
            f"/sequences/{sequence}",
            "/families/B00042",
        ]
        timings = []
        for page in pages:
            seconds, cpu = [], []
            for _ in range(rounds):
                began, cpu_began = time.perf_counter(), time.process_time()
                answer = await http.get(page)
                seconds.append(time.perf_counter() - began)
                cpu.append(time.process_time() - cpu_began)
                assert answer.status_code == 200, (page, answer.status_code)
            timings.append((page, statistics.median(seconds), statistics.median(cpu)))
        return timings


def time_stats(address: str, database_url: str) -> tuple[float, float]:
    """`followthrough stats`' time and the CPU its process used."""
    env = dict(os.environ, TEMPORAL_ADDRESS=address, DATABASE_URL=database_url)
    began, before = time.perf_counter(), resource.getrusage(resource.RUSAGE_CHILDREN)
    cli = Path(sys.executable).parent / "followthrough"
    subprocess.run([str(cli), "stats"], env=env, check=True, capture_output=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return time.perf_counter() - began, cpu


async def main(count: int, executions: int) -> None:
    async with environment() as (server, store, url, _):
        settings = Settings(temporal_address=server.address, database_url=url)
        client = None
        for _attempt in range(100):  # the port opens a moment before the frontend answers
            try:
                client = await connect(settings)
                break
            except RuntimeError:
                await asyncio.sleep(0.1)
        assert client is not None, "the dev server never answered"
        began = time.perf_counter()
        await fill_store(store, count)
        print(f"store: {count} sequences' rows in {time.perf_counter() - began:.1f} s")
        began = time.perf_counter()
        await fill_visibility(client, executions)
        print(f"visibility: {executions} executions started in {time.perf_counter() - began:.1f} s")
        await asyncio.sleep(2)  # visibility catches up with the last starts
        last = count - 1
        sequence = f"intervention-{TEMPLATES[last % len(TEMPLATES)][0]}-B{last:05d}"
        app = create_app(client, store, settings)
        print(f"  {'page':<58} {'median of 3':>11} {'CPU':>8}")
        for page, seconds, cpu in await time_pages(app, sequence):
            print(f"  {page:<58} {seconds * 1000:8.0f} ms {cpu * 1000:5.0f} ms")
        calibration = timeit.timeit("sum(range(10**6))", number=10)
        print(f"  (this machine: sum(range(10**6)) x10 took {calibration:.2f} s; ~0.2 s idle)")
        stats_s, stats_cpu = time_stats(server.address, url)
        print(f"  {'followthrough stats (a new process)':<58} {stats_s:8.1f} s  {stats_cpu:4.1f} s")


if __name__ == "__main__":
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    asyncio.run(main(count, int(sys.argv[2]) if len(sys.argv) > 2 else count))
