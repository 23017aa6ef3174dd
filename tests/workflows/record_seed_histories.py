"""Record the payment-reminder and onboarding histories the replay test guards:
`python -m tests.workflows.record_seed_histories`. Re-record only on purpose.
"""

from __future__ import annotations

import asyncio
import tempfile
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from temporalio.client import WorkflowHandle
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from contracts import Decision, Event
from starter.dev import find_binary
from starter.settings import Settings
from starter.templates import builtin_templates
from starter.triggers import start_sequence
from store import Store, migrate
from tests.conftest import FAMILIES, register_search_attributes
from worker import build_worker

HERE = Path(__file__).parent / "histories" / "seed_sequences"


async def approve(env: WorkflowEnvironment, handle: WorkflowHandle[Any, Any]) -> None:
    await handle.signal("approve", Decision(approver="dana", role="billing"))


async def paid_after_ten_days(env: WorkflowEnvironment, handle: WorkflowHandle[Any, Any]) -> None:
    await env.sleep(timedelta(days=10))
    await handle.signal("record_event", Event(name="payment_received"))


async def nothing(env: WorkflowEnvironment, handle: WorkflowHandle[Any, Any]) -> None:
    return None


SHAPES = {
    "payment_reminder_full": ("payment_reminder", approve),
    "payment_reminder_paid": ("payment_reminder", paid_after_ten_days),
    "onboarding_full": ("onboarding", nothing),
}


async def main() -> None:
    HERE.mkdir(parents=True, exist_ok=True)
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=pydantic_data_converter,
        test_server_existing_path=find_binary("temporal-test-server"),
    )
    async with env:
        await register_search_attributes(env.client)
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite+aiosqlite:///{tmp}/store.db"
            await migrate(url)
            store = Store.from_url(url)
            for family_id, name, email, phone, tz in FAMILIES:
                await store.families.upsert(family_id, name, email=email, phone=phone, timezone=tz)
            for params in builtin_templates():
                await store.templates.save(params)
            settings = Settings(task_queue=f"tq-{uuid.uuid4()}")
            async with httpx.AsyncClient() as http, build_worker(env.client, store, http, settings):
                for shape, (template, act) in SHAPES.items():
                    stored = await store.templates.active(template)
                    assert stored is not None
                    outcome = await start_sequence(
                        env.client, stored, "F2", task_queue=settings.task_queue
                    )
                    assert outcome.handle is not None
                    await act(env, outcome.handle)
                    await outcome.handle.result()
                    history = await outcome.handle.fetch_history()
                    (HERE / f"{shape}.json").write_text(history.to_json())
                    print(f"recorded {shape}")
            await store.close()


if __name__ == "__main__":
    asyncio.run(main())
