"""What crosses the workflow boundary: input, result, signals, status."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field, field_validator

from contracts.activities import FamilyContext
from contracts.sequences import Channel, SequenceParams

TASK_QUEUE = "interventions"


def workflow_id_for(template: str, family_id: str) -> str:
    """One sequence per (template, family); the id carries no PII, only opaque ids."""
    return f"intervention-{template}-{family_id}"


class State(StrEnum):
    SCHEDULED = "scheduled"
    RUNNING = "running"
    AWAITING_APPROVAL = "awaiting_approval"
    PAUSED = "paused"
    COMPENSATING = "compensating"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


class StepStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    SKIPPED = "skipped"
    FAILED = "failed"
    FELL_BACK = "fell_back"
    COMPENSATED = "compensated"


class PredictionRef(BaseModel):
    """The prediction that started a sequence (no PII: ids and scores only)."""

    prediction_id: int | None = None
    probability: float = Field(ge=0.0, le=1.0)
    confidence: float = Field(ge=0.0, le=100.0)
    model_version: str = "unknown"
    window_days: int | None = None


class InterventionStart(BaseModel):
    """Workflow input: the family, the parameters snapshot and what triggered it."""

    family_id: str
    params: SequenceParams
    prediction: PredictionRef | None = None
    triggered_by: str = "manual"
    # How the version was chosen when a rollout splits new starts, e.g. `canary v2 (10%)`.
    rollout: str | None = None
    # The family as the starter read it (time zone and channels, no names or addresses): a
    # run on today's code then skips reading it again through a local activity.
    family: FamilyContext | None = None
    # `workflows.versions.CURRENT` when the starter starts it on today's code: the run then
    # takes today's paths without recording a patch marker (see `workflows.versions`).
    code_version: str | None = None


class InterventionResult(BaseModel):
    state: State
    outcome: str
    steps: list[StepRecord] = []


class Response(BaseModel):
    """Signal `record_response`: the family answered."""

    channel: Channel
    note: str = ""


class Bounce(BaseModel):
    """Signal `record_bounce`: the provider could not deliver the message a step sent."""

    channel: Channel
    step_id: str = Field(min_length=1, max_length=200)
    reason: str = Field(default="", max_length=500)


class Decision(BaseModel):
    """Signals `approve` / `reject`: a person's decision at an approval gate."""

    approver: str = Field(min_length=1, max_length=100)
    role: str = Field(min_length=1, max_length=50)
    note: str = ""


class Verdict(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"


class DecideRequest(BaseModel):
    """Update `decide`: a decision the caller wants accepted or refused at once."""

    verdict: Verdict
    decision: Decision


class DecisionReceipt(BaseModel):
    """What the `decide` update answers: the decision was taken for this gate."""

    verdict: Verdict
    step_id: str
    approver: str


class CancelRequest(BaseModel):
    reason: str = Field(min_length=1, max_length=500)
    by: str = "operator"


class EscalationAnswer(BaseModel):
    """Signals `resume` / `skip`: a person's answer after an escalation."""

    by: str = Field(min_length=1, max_length=100)
    note: str = ""


class StepRecord(BaseModel):
    step_id: str
    kind: str
    summary: str
    status: StepStatus = StepStatus.PENDING
    attempts: int = 0
    due_at: datetime | None = None
    due_reason: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    channel: Channel | None = None
    result: str | None = None
    error: str | None = None


class ReceivedResponse(BaseModel):
    channel: Channel
    note: str
    at: datetime


class PendingApproval(BaseModel):
    step_id: str
    reason: str
    roles: list[str]
    since: datetime
    decide_by: datetime | None


class InterventionStatus(BaseModel):
    """Query `status`: everything a person needs to know about one sequence."""

    workflow_id: str
    family_id: str
    template: str
    template_version: int
    state: State
    current_step: str | None
    next_action_at: datetime | None
    steps: list[StepRecord]
    responses: list[ReceivedResponse]
    pending_approval: PendingApproval | None
    outcome: str | None = None
    decisions: list[dict[str, Any]] = []
    rollout: str | None = None

    @field_validator("decisions", mode="before")
    @classmethod
    def _decisions(cls, value: Any) -> list[dict[str, Any]]:
        return list(value or [])


InterventionResult.model_rebuild()
