"""Inputs and results of every activity: one typed pair each."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel

from contracts.caps import FrequencyCap
from contracts.conditions import Condition
from contracts.policies import Channel, TaskKind
from contracts.sequences import MessageTemplate


class StepTiming(BaseModel):
    """When a step was due, when it started and why its due time moved (quiet hours, a send
    window, a frequency cap); copied onto the step's audit row for the sequence page."""

    due_at: datetime | None = None
    started_at: datetime | None = None
    due_reason: str | None = None


class StepRef(BaseModel):
    """Where a side effect comes from; its idempotency key is derived from it."""

    workflow_id: str
    run_id: str
    step_id: str
    template: str
    template_version: int
    prediction_id: int | None = None
    # Bumped each time a person resumes the step after an escalation: the retry is a new
    # request (the address may have been fixed), which a provider must not answer from its
    # idempotency cache with the old refusal.
    round: int = 0
    # Not part of the key: the step's timing as the sequence knew it when the activity ran.
    timing: StepTiming | None = None

    @property
    def idempotency_key(self) -> str:
        return idempotency_key(self.workflow_id, self.run_id, self.step_id, self.round)


def idempotency_key(workflow_id: str, run_id: str, step_id: str, round_: int = 0) -> str:
    """`workflow/run/step`, and `/rN` once a person resumed the step N times: the same for
    every retry of one attempt, new for each run of a loop and each resumed round."""
    key = f"{workflow_id}/{run_id}/{step_id}"
    return key if round_ == 0 else f"{key}/r{round_}"


class StepOutcome(BaseModel):
    """An audit row for a step that produced no side effect of its own (wait, condition)."""

    ref: StepRef
    family_id: str
    kind: str
    outcome: str
    attempts: int = 1
    channel: Channel | None = None
    error_type: str | None = None


class FamilyContextRequest(BaseModel):
    family_id: str


class FamilyContext(BaseModel):
    """What a workflow may know of a family: no names or addresses, only what steers it."""

    family_id: str
    timezone: str
    channels: list[Channel]
    opted_out: list[Channel] = []
    preferred_channel: Channel | None = None
    # Why a channel is not in `channels` ("no phone number"): what a skip or fallback says.
    missing: dict[Channel, str] = {}


class SendRequest(BaseModel):
    ref: StepRef
    family_id: str
    channel: Channel
    template_name: str
    message: MessageTemplate
    # Checked by the send itself, in the store read it makes anyway: a capped send fails
    # with `FrequencyCapped` and the next slot, so an uncapped send needs no check before.
    cap: FrequencyCap | None = None
    # Rows of the steps before it that wrote none (a wait, a skip), written first.
    audits: list[StepOutcome] = []
    # A retry that finds an earlier attempt may have gone out, to a provider that ignores
    # `Idempotency-Key`: `ask` a coordinator (`SendUncertain`) or `resend`.
    on_uncertain: Literal["ask", "resend"] = "ask"
    # The end of the allowed hours (quiet hours, weekend, send window) the send was placed in:
    # one that starts later, after waiting in its channel's rate-limited queue, is refused
    # (`OutsideAllowedHours`) and the sequence places it again. None: urgent, or no limits.
    send_by: datetime | None = None


class SendResult(BaseModel):
    message_id: str
    provider: str
    duplicate: bool = False
    attempts: int = 1  # the activity attempt that succeeded, retries included


class TaskRequest(BaseModel):
    ref: StepRef
    family_id: str
    kind: TaskKind
    reason: str
    assign_to: str = "coordinator"
    details: dict[str, Any] = {}
    # Rows of the steps before it that wrote none (a wait, a skip), written first.
    audits: list[StepOutcome] = []


class TaskResult(BaseModel):
    task_id: int
    duplicate: bool = False


class CancelTaskRequest(BaseModel):
    ref: StepRef
    task_id: int
    reason: str


class CancelTaskResult(BaseModel):
    task_id: int
    status: str


class CloseTaskRequest(BaseModel):
    """A sequence marks a task it opened as handled, e.g. an escalation a person answered."""

    ref: StepRef
    task_id: int
    by: str
    note: str = ""


class ConditionRequest(BaseModel):
    ref: StepRef
    family_id: str
    condition: Condition
    facts: dict[str, Any] = {}
    # Rows of the steps before it that wrote none (a wait, a skip), written first.
    audits: list[StepOutcome] = []


class ConditionResult(BaseModel):
    value: bool
    explanation: str
