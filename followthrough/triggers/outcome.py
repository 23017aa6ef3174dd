"""What one start did: the single answer every trigger gives, whoever asked for the start.

The CLI prints `message`; a schedule run reports `status` per family; a batch keeps one per
prediction and records `status` as the prediction's outcome.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from temporalio.client import WorkflowHandle

from followthrough.triggers.errors import TriggerError

Status = Literal[
    "started",
    "upgraded",
    "already_running",
    "cooldown",
    "suspended",
    "refused",
    "below_threshold",
    "held_out",
]
STARTED: tuple[Status, ...] = ("started", "upgraded")
"""The statuses after which a new sequence runs."""


@dataclass(frozen=True)
class TriggerOutcome:
    """What a start did, and a message naming the sequence or the reason nothing started.

    `error`: for `suspended` and `refused`, the refusal itself; the single-shot callers raise
    it (`raise_refusal`) so the CLI prints it as its one-line error.
    """

    status: Status
    workflow_id: str | None
    message: str
    template: str | None = None
    handle: WorkflowHandle[Any, Any] | None = None
    error: TriggerError | None = None

    @property
    def started(self) -> bool:
        """Whether this call started a new sequence (an upgrade included)."""
        return self.status in STARTED

    def raise_refusal(self) -> TriggerOutcome:
        """This outcome, unless it is a refusal: then its error is raised."""
        if self.error is not None:
            raise self.error
        return self


def refused(
    error: TriggerError, template: str | None, status: Status = "refused"
) -> TriggerOutcome:
    """The outcome of a start a rule refused; its message is the refusal's."""
    return TriggerOutcome(status, None, str(error), template, error=error)
