"""Template auto-suspension: the start guard that refuses a suspended template, and suspends
one when too many of its sequences fail or pause within a window.

The read-only failure views (the quarantine, provider health) are in
`followthrough.reporting.quarantine`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from temporalio.client import Client
from temporalio.service import RPCError

from contracts import parse_duration
from followthrough.triggers.errors import TemplateSuspended, TriggerError
from store import Store

__all__ = [
    "SuspensionPolicy",
    "TemplateSuspended",
    "count_failing",
    "guard_start",
    "resume_template",
]

log = logging.getLogger(__name__)


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
