"""Record the replay-test histories: `python -m tests.workflows.record_histories [FOLDER]`
(`... current family_given` for the shape started with the family in its input).

Runs each sequence shape under the time-skipping server with the real activities and saves
`history.to_json()` under `histories/` (or `histories/FOLDER/`, e.g. `current` for runs on
`workflows.versions.CURRENT`). Re-record only on purpose: the point of the stored files is
that they come from older code; a new folder keeps the older ones.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
from temporalio.client import WorkflowHandle
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from contracts import CancelRequest, Channel, Decision, Response
from followthrough.platform.devserver import find_binary
from followthrough.platform.settings import Settings
from followthrough.templates import builtin_templates
from followthrough.triggers.start import start_sequence
from store import Store, migrate
from store.families import context_of
from tests.conftest import FAMILIES, register_search_attributes
from worker import build_worker

HERE = Path(__file__).parent / "histories"
Step = Callable[[WorkflowEnvironment, WorkflowHandle[Any, Any]], Awaitable[None]]


async def approve(env: WorkflowEnvironment, handle: WorkflowHandle[Any, Any]) -> None:
    await handle.signal("approve", Decision(approver="sarah", role="coordinator"))


async def reply(env: WorkflowEnvironment, handle: WorkflowHandle[Any, Any]) -> None:
    await handle.signal("record_response", Response(channel=Channel.EMAIL))


async def cancel(env: WorkflowEnvironment, handle: WorkflowHandle[Any, Any]) -> None:
    await env.sleep(86400)
    await handle.signal("cancel", CancelRequest(reason="family withdrew"))


SHAPES: dict[str, tuple[str, Step]] = {
    "high_risk_full": ("high_risk_intervention", approve),
    "high_risk_responded": ("high_risk_intervention", reply),
    "high_risk_cancelled": ("high_risk_intervention", cancel),
    "template_full": ("high_risk_as_data", approve),
}


async def record(
    shapes: dict[str, tuple[str, Step]],
    folder: Path,
    family: str,
    update: dict[str, Any],
    *,
    family_given: bool = False,
) -> None:
    """Run each shape for `family` (template params changed by `update`); save its history.

    `family_given`: started as the triggers start them, with the family read beforehand."""
    folder.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 - a one-off script
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
                for shape, (template, act) in shapes.items():
                    stored = await store.templates.active(template)
                    assert stored is not None
                    row = await store.families.get(family)
                    assert row is not None
                    outcome = await start_sequence(
                        env.client,
                        stored.model_copy(update=update),
                        family,
                        task_queue=settings.task_queue,
                        family=context_of(row) if family_given else None,
                    )
                    assert outcome.handle is not None
                    await act(env, outcome.handle)
                    await outcome.handle.result()
                    history = await outcome.handle.fetch_history()
                    (folder / f"{shape}.json").write_text(history.to_json())
                    print(f"recorded {shape}")
            await store.close()


# Runs on today's code as the triggers start them: the family in the input, no local activity.
FAMILY_GIVEN: dict[str, tuple[str, Step]] = {
    "high_risk_full_family_given": ("high_risk_intervention", approve)
}


async def main(folder: str = "", *which: str) -> None:
    if "family_given" in which:
        await record(FAMILY_GIVEN, HERE / folder, "F1", {"quiet_hours": None}, family_given=True)
        return
    await record(SHAPES, HERE / folder, "F1", {"quiet_hours": None})


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:]))
