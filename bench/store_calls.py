"""What the store costs a worker: CPU per repository call, and per bench sequence's activities.

    .venv/bin/python -m bench.store_calls [N]      # default 500 calls of each, N/2 sequences

A migrated SQLite store in a temporary directory, no server. First N calls of each store
call a send or a task makes, one after another; then the activities of N/2 bench sequences
(`send_email`, `send_sms` carrying the wait's audit row, `open_task`) through Temporal's
`ActivityEnvironment`, one sequence after another and then 30 at a time. Prints this
process's CPU (all threads) and wall time per call and per sequence.
"""

from __future__ import annotations

import asyncio
import resource
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from temporalio.testing import ActivityEnvironment

from activities.channels import ChannelActivities
from activities.providers import OutboxProvider
from activities.tasks import TaskActivities
from contracts import (
    Channel,
    MessageTemplate,
    SendRequest,
    StepOutcome,
    StepRef,
    TaskKind,
    TaskRequest,
)
from store import Store, migrate
from store.audit import step_for


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _ref(number: int, step_id: str) -> StepRef:
    return StepRef(
        workflow_id=f"wf-{number}", run_id="run", step_id=step_id, template="t", template_version=1
    )


async def _timed(label: str, n: int, call: Callable[[int], Awaitable[Any]]) -> None:
    wall, cpu = time.perf_counter(), _cpu()
    for number in range(n):
        await call(number)
    wall, cpu = time.perf_counter() - wall, _cpu() - cpu
    print(f"{label:38s} cpu {1000 * cpu / n:6.3f} ms   wall {1000 * wall / n:6.3f} ms", flush=True)


async def calls(store: Store, n: int) -> None:
    family = "F1"
    await _timed("families.get", n, lambda i: store.families.get(family))
    await _timed("messages.get_by_key", n, lambda i: store.messages.get_by_key(f"k{i}"))
    if hasattr(store.messages, "before_send"):  # absent before commit bbfc0ac
        await _timed(
            "messages.before_send",
            n,
            lambda i: store.messages.before_send(_ref(i, "email").idempotency_key, family),
        )
    await _timed(
        "steps.add",
        n,
        lambda i: store.steps.add(
            step_for(_ref(i, "wait"), family_id=family, kind="wait", outcome="-", attempts=1)
        ),
    )
    await _timed(
        "tasks.open",
        n,
        lambda i: store.tasks.open(
            idempotency_key=f"t{i}",
            family_id=family,
            workflow_id=f"wf-{i}",
            kind="call",
            reason="r",
            assign_to="coordinator",
            details={},
        ),
    )
    await _timed(
        "messages.record (with its audit row)",
        n,
        lambda i: store.messages.record(
            idempotency_key=f"m{i}",
            family_id=family,
            workflow_id=f"wf-{i}",
            step_id="email",
            channel="email",
            provider="outbox",
            provider_message_id="x",
            recipient="a@example.org",
            subject="s",
            body="b",
            audit=step_for(_ref(i, "sms"), family_id=family, kind="sms", outcome="-", attempts=1),
        ),
    )


async def sequences(store: Store, n: int) -> None:
    channels = ChannelActivities(store, {c: OutboxProvider() for c in (Channel.EMAIL, Channel.SMS)})
    tasks = TaskActivities(store)
    env = ActivityEnvironment()
    outreach = MessageTemplate(subject="Hello {{ family_name }}", body="Hi, checking in.")
    checkin = MessageTemplate(body="Hi {{ family_name }}, can we chat this week?")

    async def sequence(i: int) -> None:
        ref = _ref(100_000 + i, "email")
        await env.run(
            channels.send_email,
            SendRequest(
                ref=ref, family_id="F1", channel=Channel.EMAIL, template_name="o", message=outreach
            ),
        )
        wait_ref = ref.model_copy(update={"step_id": "wait"})
        wait = StepOutcome(ref=wait_ref, family_id="F1", kind="wait", outcome="no reply")
        await env.run(
            channels.send_sms,
            SendRequest(
                ref=ref.model_copy(update={"step_id": "sms"}),
                family_id="F1",
                channel=Channel.SMS,
                template_name="c",
                message=checkin,
                audits=[wait],
            ),
        )
        await env.run(
            tasks.open_task,
            TaskRequest(
                ref=ref.model_copy(update={"step_id": "call"}),
                family_id="F1",
                kind=TaskKind.CALL,
                reason="No reply to email",
            ),
        )

    await _timed("one sequence's activities", n, sequence)

    async def thirty_at_once(batch: int) -> None:
        await asyncio.gather(*(sequence(n + 30 * batch + i) for i in range(30)))

    wall, cpu = time.perf_counter(), _cpu()
    batches = max(n // 30, 1)
    for batch in range(batches):
        await thirty_at_once(batch)
    count = 30 * batches
    wall, cpu = time.perf_counter() - wall, _cpu() - cpu
    print(
        f"{'the same, 30 at a time':38s} cpu {1000 * cpu / count:6.3f} ms   "
        f"wall {1000 * wall / count:6.3f} ms",
        flush=True,
    )


async def main(n: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'store.db'}"
        await migrate(url)
        async with Store.from_url(url) as store:
            await store.families.upsert(
                "F1", "Ann Lee", email="ann@example.org", phone="+15550100", timezone="UTC"
            )
            await calls(store, n)
            await sequences(store, max(n // 2, 30))


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 500))
