"""Failure views and guards: provider health, the quarantine, template auto-suspension.

Thin like the rest of `starter/`: read Temporal visibility, the `status` query and the store.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError

from contracts import InterventionStatus, parse_duration
from followthrough.triggers.start import TriggerError
from store import Store
from store.health import ProviderHealth
from workflows.search_attributes import STATE, TEMPLATE_NAME

QUARANTINED = ("paused", "failed")

log = logging.getLogger(__name__)


class TemplateSuspended(TriggerError):
    """A start refused because the template is suspended; the message says how to resume it."""


@dataclass(frozen=True)
class QuarantineRow:
    """A sequence that needs a person: paused on an escalation, or failed."""

    workflow_id: str
    template: str | None
    state: str
    started: datetime | None
    step: str | None
    last_error: str | None


@dataclass(frozen=True)
class SuspensionPolicy:
    """How many failing sequences in how long a window suspend a template."""

    threshold: int = 5
    window: timedelta = timedelta(hours=1)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> SuspensionPolicy:
        """`SUSPEND_AFTER_FAILURES` (count, 0 turns it off) and `SUSPEND_WINDOW` (e.g. 1h)."""
        env = os.environ if env is None else env
        try:
            threshold = int(env.get("SUSPEND_AFTER_FAILURES", cls.threshold))
        except ValueError:
            raise ValueError("SUSPEND_AFTER_FAILURES must be a whole number") from None
        if threshold < 0:
            raise ValueError("SUSPEND_AFTER_FAILURES must not be negative")
        raw = env.get("SUSPEND_WINDOW")
        try:
            window = parse_duration(raw) if raw is not None else cls.window
        except ValueError as err:
            raise ValueError(f"SUSPEND_WINDOW: {err}") from None
        return cls(threshold=threshold, window=window)


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


async def count_failing(client: Client, template: str, since: datetime) -> int:
    """Sequences of `template` that failed since `since`, plus those paused and started since."""
    stamp = since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    base = f"TemplateName = '{template}'"
    failed = await client.count_workflows(
        f"{base} AND InterventionState = 'failed' AND CloseTime >= '{stamp}'"
    )
    paused = await client.count_workflows(
        f"{base} AND InterventionState = 'paused' AND ExecutionStatus = 'Running'"
        f" AND StartTime >= '{stamp}'"
    )
    return failed.count + paused.count


async def guard_start(
    client: Client, store: Store, template: str, policy: SuspensionPolicy | None = None
) -> None:
    """Refuse a start of a suspended template; suspend it when too many of its runs fail."""
    policy = policy or SuspensionPolicy.from_env()
    row = await store.suspensions.get(template)
    if row is not None and row.suspended:
        raise TemplateSuspended(_refusal(template, row.reason))
    if policy.threshold == 0:
        return
    since = datetime.now(UTC) - policy.window
    if row is not None and row.resumed_at is not None and row.resumed_at > since:
        # Failures from before a person resumed the template were already judged.
        since = row.resumed_at
    try:
        failing = await count_failing(client, template, since)
    except RPCError as err:
        # No visibility (e.g. the time-skipping test server) must not stop every start;
        # a suspension already recorded above still applies.
        log.warning("cannot count failing %s sequences: %s", template, err.message)
        return
    if failing >= policy.threshold:
        window = int(policy.window.total_seconds())
        reason = f"{failing} of its sequences failed or were paused within {window}s"
        row = await store.suspensions.suspend(template, reason)
        raise TemplateSuspended(_refusal(template, row.reason))


async def resume_template(store: Store, template: str, by: str) -> None:
    """Lift a suspension; an error naming the template when it was not suspended."""
    if await store.suspensions.resume(template, by) is None:
        raise TriggerError(f"template: {template!r} is not suspended")


def _refusal(template: str, reason: str) -> str:
    return (
        f"template: {template!r} is suspended ({reason}); "
        f"fix the cause, then run `followthrough templates resume {template}`"
    )
