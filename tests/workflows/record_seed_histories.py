"""Record the payment-reminder and onboarding histories the replay test guards:
`python -m tests.workflows.record_seed_histories`. Re-record only on purpose.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import Any

from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from contracts import Decision, Event
from tests.workflows.record_histories import Step, record

HERE = Path(__file__).parent / "histories" / "seed_sequences"


async def approve(env: WorkflowEnvironment, handle: WorkflowHandle[Any, Any]) -> None:
    await handle.signal("approve", Decision(approver="dana", role="billing"))


async def paid_after_ten_days(env: WorkflowEnvironment, handle: WorkflowHandle[Any, Any]) -> None:
    await env.sleep(timedelta(days=10))
    await handle.signal("record_event", Event(name="payment_received"))


async def nothing(env: WorkflowEnvironment, handle: WorkflowHandle[Any, Any]) -> None:
    return None


SHAPES: dict[str, tuple[str, Step]] = {
    "payment_reminder_full": ("payment_reminder", approve),
    "payment_reminder_paid": ("payment_reminder", paid_after_ten_days),
    "onboarding_full": ("onboarding", nothing),
}


async def main() -> None:
    await record(SHAPES, HERE, "F2", {})


if __name__ == "__main__":
    asyncio.run(main())
