"""Failure views: provider health, and the quarantine of paused and failed sequences.

Read-only: Temporal visibility, each sequence's `status` query (or its history when no
worker answers), and the breaker states the workers recorded in the store.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowExecutionStatus

from contracts import InterventionStatus
from store import Store
from store.health import ProviderHealth
from workflows.search_attributes import STATE, TEMPLATE_NAME

QUARANTINED = ("paused", "failed")


@dataclass(frozen=True)
class QuarantineRow:
    """A sequence that needs a person: paused on an escalation, or failed."""

    workflow_id: str
    template: str | None
    state: str
    started: datetime | None
    step: str | None
    last_error: str | None


async def provider_health(store: Store) -> list[ProviderHealth]:
    """The breaker states the workers recorded, by provider."""
    return await store.health.list()


async def quarantine(client: Client) -> list[QuarantineRow]:
    """Paused and failed sequences with their last error, oldest first."""
    states = ", ".join(f"'{s}'" for s in QUARANTINED)
    query = f"WorkflowId STARTS_WITH 'intervention-' AND InterventionState IN ({states})"
    rows = []
    async for execution in client.list_workflows(query):
        attrs = execution.typed_search_attributes
        state = attrs.get(STATE) or "-"
        step, error = await _last_error(client, execution.id, execution.run_id)
        if error is None and execution.status == WorkflowExecutionStatus.FAILED:
            error = await _failure_message(client, execution.id, execution.run_id)
        rows.append(
            QuarantineRow(
                workflow_id=execution.id,
                template=attrs.get(TEMPLATE_NAME),
                state=state,
                started=execution.start_time,
                step=step,
                last_error=error,
            )
        )
    rows.sort(key=lambda r: r.started or datetime.max.replace(tzinfo=UTC))
    return rows


async def _last_error(
    client: Client, workflow_id: str, run_id: str | None
) -> tuple[str | None, str | None]:
    handle = client.get_workflow_handle(workflow_id, run_id=run_id)
    try:
        status: InterventionStatus = await handle.query(
            "status", result_type=InterventionStatus, rpc_timeout=timedelta(seconds=5)
        )
    except Exception:  # no worker to answer (or an old run): fall back to the history
        return None, None
    failed = [s for s in status.steps if s.error]
    if not failed:
        return status.current_step, None
    return failed[-1].step_id, failed[-1].error


async def _failure_message(client: Client, workflow_id: str, run_id: str | None) -> str | None:
    handle = client.get_workflow_handle(workflow_id, run_id=run_id)
    async for event in handle.fetch_history_events():
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED:
            return event.workflow_execution_failed_event_attributes.failure.message
    return None
