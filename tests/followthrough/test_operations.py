"""`followthrough.operations`: requests refused with one line before Temporal is asked."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from followthrough import operations


class Untouchable:
    """A client every refusal below must be decided without."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the client was used: {name}")


async def test_refusals_name_the_field():
    client: Any = Untouchable()
    with pytest.raises(operations.OperationError, match="^workflow id: 'not-ours' is not an"):
        await operations.status(client, "not-ours")
    with pytest.raises(operations.OperationError, match="^channel: 'pigeon' is not one of email"):
        await operations.respond(client, "intervention-x-F1", "pigeon")
    with pytest.raises(operations.OperationError, match="^state: 'asleep' is not one of"):
        await operations.list_sequences(client, "asleep")


async def test_load_templates_keeps_an_unchanged_version(store):
    from followthrough.templates import builtin_templates

    first = await operations.load_templates(store, builtin_templates()[:1])
    again = await operations.load_templates(store, builtin_templates()[:1])
    assert [created for *_, created in again] == [False]
    assert [(n, v) for n, v, _ in again] == [(n, v) for n, v, _ in first]


async def test_status_of_a_run_no_worker_polls_for_says_so_at_once(dev_client):
    """A query waits for a worker; with none polling the run's queue, `status` (the CLI,
    the sequence page, the inbox) says so instead of waiting out a timeout."""
    queue = f"nobody-polls-{uuid.uuid4()}"
    workflow_id = f"intervention-quick-{uuid.uuid4()}"
    await dev_client.start_workflow("Intervention", id=workflow_id, task_queue=queue)
    with pytest.raises(operations.OperationError) as refused:
        await operations.status(dev_client, workflow_id)
    assert str(refused.value) == (
        f"status: no worker is polling task queue {queue!r}, so the sequence cannot answer"
        " (start one: `followthrough worker`)"
    )
    with pytest.raises(operations.OperationError, match="^workflow id: no sequence"):
        await operations.status(dev_client, f"intervention-none-{uuid.uuid4()}")
    await dev_client.get_workflow_handle(workflow_id).terminate("test over")
