"""What a looping data-defined sequence carries into its next run (continue-as-new).

`TemplateIntervention` starts a new run each time its steps loop back to a step it already
ran, so one run's history never holds more than one pass. Everything that must outlive the
pass travels here as data: where to go on, replies, queued decisions, events, and the undos
of compensating steps (closures cannot cross runs; their arguments can).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel

from contracts.activities import StepRef
from contracts.runs import Decision, InterventionStart, ReceivedResponse, StepRecord
from contracts.steps import Event
from contracts.webhooks import WebhookRequest


class CarriedUndo(BaseModel):
    """A registered compensation, as data: cancel a coordinator task or call an undo webhook."""

    key: str = ""  # the step record it undoes, in the status's steps
    kind: Literal["cancel_task", "webhook"]
    ref: StepRef
    task_id: int | None = None
    request: WebhookRequest | None = None
    summary: str = ""


class CarriedState(BaseModel):
    """The state of a data-defined sequence that outlives one run."""

    next_step: str
    passes: int  # runs that came before the one this starts
    last_outcome: str
    responses: list[ReceivedResponse] = []
    decisions: list[tuple[str, Decision]] = []  # received, not yet used by a gate
    decision_log: list[dict[str, Any]] = []
    events: list[Event] = []
    escalations: dict[str, int] = {}
    undos: list[CarriedUndo] = []
    # What earlier runs did, for the status and the timeline (newest kept when long).
    earlier_steps: dict[str, StepRecord] = {}


class TemplateStart(InterventionStart):
    """`TemplateIntervention`'s input: a usual start, or a continuation with its state."""

    carried: CarriedState | None = None
