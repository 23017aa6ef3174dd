"""Which run a client talks to: one named by its run id, never whichever run is newest.

A family's sequence can finish and a new one start under the same workflow id (a second
prediction after the cooldown, a re-trigger). A handle without a run id follows the newest
run, so a signal or a read meant for the older one would reach the newer one. Every handle
that acts on a particular run names it here; a looping sequence's next pass (continue-as-new)
counts as the same sequence, a new start under the same id does not.
"""

from __future__ import annotations

import time
from typing import Any

from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import (
    Client,
    WorkflowExecutionDescription,
    WorkflowExecutionStatus,
    WorkflowHandle,
)
from temporalio.service import RPCError, RPCStatusCode

Handle = WorkflowHandle[Any, Any]


def pinned(client: Client, description: WorkflowExecutionDescription) -> Handle:
    """A handle on exactly the run `description` describes."""
    return client.get_workflow_handle(
        description.id,
        run_id=description.run_id,
        first_execution_run_id=first_run_id(description),
    )


def first_run_id(description: WorkflowExecutionDescription) -> str | None:
    """The run that started the chain `description` belongs to (continue-as-new keeps it)."""
    return description.raw_description.workflow_execution_info.first_run_id or None


async def describe(client: Client, workflow_id: str, run_id: str | None = None) -> Any:
    """The run's description (the current run's without `run_id`); None when there is none."""
    try:
        return await client.get_workflow_handle(workflow_id, run_id=run_id).describe()
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            return None
        raise


# How long an answer of `worker_polls` is reused: a page listing many runs asks once.
POLLERS_FRESH = 5.0
_pollers: dict[tuple[str, str], tuple[float, bool]] = {}


async def worker_polls(client: Client, task_queue: str) -> bool:
    """Whether a worker has lately polled `task_queue` for workflow tasks, as the server
    keeps its pollers (a few minutes), the way the Temporal Web UI warns of "no workers
    running". A query to a run on a queue nobody polls would only wait out its timeout."""
    key = (client.namespace, task_queue)
    now = time.monotonic()
    known = _pollers.get(key)
    if known is not None and now - known[0] < POLLERS_FRESH:
        return known[1]
    described = await client.workflow_service.describe_task_queue(
        DescribeTaskQueueRequest(
            namespace=client.namespace,
            task_queue=TaskQueue(name=task_queue),
            task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
        )
    )
    polled = bool(described.pollers)
    _pollers[key] = (now, polled)
    return polled


async def current_run(client: Client, workflow_id: str, *, running: bool = False) -> Handle | None:
    """The run of `workflow_id` that is current now, named by its run id; None when there is
    no such workflow (or, with `running`, when its current run has ended)."""
    description = await describe(client, workflow_id)
    if description is None:
        return None
    if running and description.status != WorkflowExecutionStatus.RUNNING:
        return None
    return pinned(client, description)


async def continued_run(client: Client, workflow_id: str, run_id: str) -> Handle | None:
    """The running run of the sequence that `run_id` belongs to: that run itself, or the run
    it continued as; None when that sequence has ended (whatever runs under the id now)."""
    sent = await describe(client, workflow_id, run_id)
    if sent is None:
        return None
    if sent.status == WorkflowExecutionStatus.RUNNING:
        return pinned(client, sent)
    if sent.status != WorkflowExecutionStatus.CONTINUED_AS_NEW:
        return None
    now = await describe(client, workflow_id)
    if (
        now is None
        or now.status != WorkflowExecutionStatus.RUNNING
        or first_run_id(now) != first_run_id(sent)
    ):
        return None
    return pinned(client, now)


async def signal_run(
    client: Client, workflow_id: str, run_id: str, name: str, arg: Any
) -> str | None:
    """Signal run `run_id` (or the run it continued as); the run id signalled, or None when
    that sequence has ended: the signal then reaches no other run of the same id."""
    handle = client.get_workflow_handle(workflow_id, run_id=run_id)
    try:
        await handle.signal(name, arg)
        return run_id
    except RPCError as err:
        if err.status != RPCStatusCode.NOT_FOUND:
            raise
    later = await continued_run(client, workflow_id, run_id)
    if later is None:
        return None
    try:
        await later.signal(name, arg)
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            return None
        raise
    return later.run_id
