"""What a send's outcome means for the sequence: pure reads of the family's channels and of
the error a send activity ended with (capped, uncertain, how often tried)."""

from __future__ import annotations

from datetime import datetime

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError, RetryState

with workflow.unsafe.imports_passed_through():
    from activities.channels import FREQUENCY_CAPPED, OUTSIDE_HOURS
    from activities.delivery import SEND_UNCERTAIN
    from contracts import Channel, FamilyContext


def unusable(family: FamilyContext, channel: Channel) -> str | None:
    """Why the family cannot be sent to on `channel` at all, or None when it can."""
    if channel in family.opted_out:
        return f"opted out of {channel.value}"
    if channel not in family.channels:
        return family.missing.get(channel, f"no {channel.value} address")
    return None


def capped_until(err: ActivityError) -> datetime | None:
    """The next slot of a send its frequency cap refused, or None for any other failure."""
    cause = err.cause
    if not isinstance(cause, ApplicationError) or cause.type != FREQUENCY_CAPPED:
        return None
    details = cause.details[0] if cause.details else {}
    return datetime.fromisoformat(details["next_slot"])


def outside_hours(err: ActivityError) -> bool:
    """A send that started after its allowed hours had ended (it waited in its queue)."""
    cause = err.cause
    return isinstance(cause, ApplicationError) and cause.type == OUTSIDE_HOURS


def uncertain(err: ActivityError) -> bool:
    """A send that may have reached the family, through a provider that cannot tell."""
    cause = err.cause
    return isinstance(cause, ApplicationError) and cause.type == SEND_UNCERTAIN


def attempts(err: ActivityError, max_attempts: int) -> int:
    """How often the activity was tried before it gave up."""
    cause = err.cause
    if isinstance(cause, ApplicationError) and cause.details:
        detail = cause.details[0]
        if isinstance(detail, dict) and isinstance(detail.get("attempts"), int):
            return int(detail["attempts"])
    if err.retry_state == RetryState.MAXIMUM_ATTEMPTS_REACHED:
        return max_attempts
    return 1


def describe_error(err: ActivityError) -> str:
    """The error in one line: its type and message."""
    cause = err.cause
    if isinstance(cause, ApplicationError):
        return f"{cause.type}: {cause.message}"
    return str(cause or err)
