"""Event starts go through the start pipeline: the same rules as any other start."""

from __future__ import annotations

import uuid

import pytest
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from contracts import SequenceParams, workflow_id_for
from followthrough.triggers.events import send_event
from followthrough.triggers.suspension import TemplateSuspended
from store import Store


def _bound(event: str) -> SequenceParams:
    return SequenceParams.model_validate(
        {
            "name": f"on_{event}",
            "quiet_hours": None,
            "trigger": {"type": "event", "event": event},
            "steps": [{"id": "hold", "type": "wait", "duration": "1d", "until": event}],
        }
    )


async def _exists(client: Client, workflow_id: str) -> bool:
    try:
        await client.get_workflow_handle(workflow_id).describe()
    except RPCError as err:
        assert err.status == RPCStatusCode.NOT_FOUND
        return False
    return True


async def test_an_event_start_of_a_suspended_template_is_refused(
    dev_client: Client, store: Store, settings
):
    event = f"probe_{uuid.uuid4().hex[:8]}"
    params = _bound(event)
    await store.templates.save(params)
    await store.suspensions.suspend(params.name, "6 of its sequences failed within 3600s")

    with pytest.raises(TemplateSuspended, match=f"templates resume {params.name}"):
        await send_event(dev_client, store, event, "F1", task_queue=settings.task_queue)
    assert not await _exists(dev_client, workflow_id_for(params.name, "F1"))


async def test_an_event_for_a_running_sequence_is_delivered_while_suspended(
    dev_client: Client, store: Store, settings
):
    event = f"probe_{uuid.uuid4().hex[:8]}"
    params = _bound(event)
    await store.templates.save(params)
    first = await send_event(dev_client, store, event, "F1", task_queue=settings.task_queue)
    assert first.started and first.handle is not None
    try:
        # A suspension refuses new starts; the running sequence still takes its events.
        await store.suspensions.suspend(params.name, "6 of its sequences failed within 3600s")
        again = await send_event(
            dev_client, store, event, "F1", {"n": 2}, task_queue=settings.task_queue
        )
        assert again.status == "already_running"
        assert again.message == f"event {event!r} sent to {first.workflow_id}"
        assert again.handle is not None
        assert again.handle.result_run_id == first.handle.result_run_id
    finally:
        await first.handle.terminate("test over")  # no worker polls the test's queue
