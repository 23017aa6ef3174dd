"""What crosses the workflow boundary: input, result, signals, status."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from contracts.activities import FamilyContext, StepOutcome, StepRef
from contracts.bounds import KEPT, NOTE_MAX, REPLY_MAX, clip, keep_last
from contracts.events import Event
from contracts.sequences import Channel, SequenceParams
from contracts.signals import RejectedSignal
from contracts.webhooks import WebhookRequest

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
    window_days: int | None = Field(default=None, ge=0, le=3650)


class InterventionStart(BaseModel):
    """Workflow input: the family, the parameters snapshot and what triggered it."""

    family_id: str
    params: SequenceParams
    prediction: PredictionRef | None = None
    triggered_by: str = "manual"
    # How the version was chosen when a rollout splits new starts, e.g. `canary v2 (10%)`.
    rollout: str | None = None
    # The family as the starter read it (time zone and channels, no names or addresses): the
    # run then skips reading it again through a local activity.
    family: FamilyContext | None = None
    # How many workflow changes (`workflows.changes.CHANGES`, in order) were on when the run
    # was started: those are on from its first task, with no patch marker. 0: a run started
    # before levels existed, which asks `workflow.patched` of each change as it always did.
    changes: int = Field(default=0, ge=0)


class InterventionResult(BaseModel):
    state: State
    outcome: str
    steps: list[StepRecord] = []


class Response(BaseModel):
    """Signal `record_response`: the family answered."""

    channel: Channel
    note: str = Field(default="", max_length=REPLY_MAX)


class Bounce(BaseModel):
    """Signal `record_bounce`: the provider could not deliver the message a step sent."""

    channel: Channel
    step_id: str = Field(min_length=1, max_length=200)
    reason: str = Field(default="", max_length=500)


class Decision(BaseModel):
    """Signals `approve` / `reject`: a person's decision at an approval gate.

    `identity`: `signed_in` when the inbox read the approver and role from a signed-in
    account; `declared` when the caller stated them (the CLI, `temporal workflow signal`).
    """

    approver: str = Field(min_length=1, max_length=100)
    role: str = Field(min_length=1, max_length=50)
    note: str = Field(default="", max_length=NOTE_MAX)
    # The gate (its step id) the decision answers; None: the pending gate, or if none is
    # pending yet, the next one. A decision never answers a gate its role may not decide.
    gate: str | None = Field(default=None, min_length=1, max_length=200)
    identity: Literal["signed_in", "declared"] = "declared"


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
    by: str = Field(default="operator", min_length=1, max_length=100)


class EscalationAnswer(BaseModel):
    """Signals `resume` / `skip`: a person's answer after an escalation."""

    by: str = Field(min_length=1, max_length=100)
    note: str = Field(default="", max_length=NOTE_MAX)


class StepRecord(BaseModel):
    # A result or error is clipped whenever it is set: provider texts can be whole pages.
    model_config = ConfigDict(validate_assignment=True)

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
    # Which run of a looping data-defined sequence it belongs to (each pass is a new run).
    run: int = 1

    @field_validator("result", "error")
    @classmethod
    def _clipped(cls, value: str | None) -> str | None:
        return clip(value)


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


class Undo(BaseModel):
    """A registered compensation, as data: cancel a coordinator task or call an undo webhook.

    Data rather than a closure, so that it survives continue-as-new unchanged."""

    step_id: str  # the step it undoes, with `run` the step record it marks compensated
    run: int = 1
    kind: Literal["cancel_task", "webhook"]
    ref: StepRef
    task_id: int | None = None
    request: WebhookRequest | None = None
    summary: str = ""


class InterventionStatus(BaseModel):
    """Query `status`: everything a person needs to know about one sequence.

    It is also the sequence's whole state: the workflow keeps one of these, the `status`
    query returns it, and a looping data-defined sequence carries it into its next run.
    """

    workflow_id: str
    family_id: str
    template: str
    template_version: int
    state: State
    current_step: str | None = None
    next_action_at: datetime | None = None
    steps: list[StepRecord] = []
    responses: list[ReceivedResponse] = []
    pending_approval: PendingApproval | None = None
    outcome: str | None = None
    decisions: list[dict[str, Any]] = []  # every decision received, refused ones too
    # Signals refused because their input was wrong, newest last: the last few, and a count
    # of all of them.
    rejected_signals: list[RejectedSignal] = []
    signals_rejected: int = 0
    rollout: str | None = None
    # What the sequence acts on: the family's time zone and channels, decisions not yet
    # used by a gate, a cancel, an escalation's answer, outside events, bounces.
    family: FamilyContext | None = None
    queued_decisions: list[tuple[str, Decision]] = []
    cancel_request: CancelRequest | None = None
    escalation_answer: tuple[str, EscalationAnswer] | None = None
    escalations: dict[str, int] = {}  # step id -> times escalated
    events: list[Event] = []
    # Bounces by step id (the first of each), and the fallback (channel, message) of every
    # sent step that has one; a handled bounce leaves `bounce_fallbacks`.
    bounces: dict[str, Bounce] = {}
    bounce_fallbacks: dict[str, tuple[Channel, str]] = {}
    handling_bounce: bool = False
    # Per channel, the fallback step that went out on it: the next planned step on that
    # channel is skipped as covered by it (one entry per channel at most).
    covered: dict[Channel, str] = {}
    # Audit rows of steps whose activities write none, written first by the next activity.
    carried_audits: list[StepOutcome] = []
    # The `InterventionState` search attribute as last set (None: not set by this run).
    published_state: State | None = None
    undos: list[Undo] = []  # newest last; run in reverse when the sequence is called off
    # Data-defined sequences: this run's number, where it starts, the steps it has run, and
    # the outcome so far.
    run: int = 1
    resume_at: str | None = None
    ran: list[str] = []
    last_outcome: str = "completed"
    # When the story began (an onboarding's enrolment: its steps are offsets from it).
    began_at: datetime | None = None
    # How many entries each bounded list (`contracts.bounds.KEPT`; the step records and the
    # decision log at each next run) has let go: it keeps its newest ones only.
    dropped: dict[str, int] = {}

    @field_validator("decisions", mode="before")
    @classmethod
    def _decisions(cls, value: Any) -> list[dict[str, Any]]:
        return list(value or [])

    def keep(self, name: str, item: Any) -> None:
        """Append `item` to the list `name`, which keeps its newest `KEPT[name]` entries.

        Events keep one entry per name (the newest): a wait or a stop rule asks only whether
        an event came, and a condition reads its latest data."""
        items: list[Any] = getattr(self, name)
        if name == "events":
            before = len(items)
            items[:] = [event for event in items if event.name != item.name]
            self.let_go(name, before - len(items))
        items.append(item)
        self.let_go(name, keep_last(items, KEPT[name]))

    def let_go(self, name: str, count: int) -> None:
        """Count `count` entries of the list `name` as let go."""
        if count > 0:
            self.dropped[name] = self.dropped.get(name, 0) + count

    def next_run(
        self, resume_at: str, *, steps_kept: int, decisions_kept: int
    ) -> InterventionStatus:
        """The state the next run of a looping data-defined sequence starts with.

        What belongs to one run starts afresh (the family is read again); the rest is
        carried. The step records of earlier runs and the decision log keep their newest
        `steps_kept` and `decisions_kept` entries, and a record an undo needs is always kept.
        """
        undone = {(undo.step_id, undo.run) for undo in self.undos}
        cut = max(len(self.steps) - steps_kept, 0)
        older = [r for r in self.steps[:cut] if (r.step_id, r.run) in undone]
        dropped = dict(self.dropped)
        cut_decisions = max(len(self.decisions) - decisions_kept, 0)
        for name, count in (("steps", cut - len(older)), ("decisions", cut_decisions)):
            if count > 0:
                dropped[name] = dropped.get(name, 0) + count
        return self.model_copy(
            update={
                "state": State.SCHEDULED,
                "current_step": None,
                "next_action_at": None,
                "pending_approval": None,
                "family": None,
                "escalation_answer": None,
                "bounces": {},
                "bounce_fallbacks": {},
                "handling_bounce": False,
                "published_state": None,
                "ran": [],
                "steps": [*older, *self.steps[cut:]],
                "decisions": self.decisions[cut_decisions:],
                "dropped": dropped,
                "run": self.run + 1,
                "resume_at": resume_at,
            }
        )


class TemplateStart(InterventionStart):
    """`TemplateIntervention`'s input: a usual start, or the next run of a looping one with
    the state the run before it ended with."""

    carried: InterventionStatus | None = None


InterventionResult.model_rebuild()
