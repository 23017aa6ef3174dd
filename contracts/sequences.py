"""Sequence parameters: a template's settings, as data operators tune.

A template names the workflow class that runs it and carries everything that class reads:
trigger thresholds, delays, message templates, retry strategy, escalation rules. A running
sequence receives a snapshot of it at start and is pinned to that version.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

import contracts.channels as channels
from contracts.caps import FrequencyCap
from contracts.policies import (
    Channel,
    EscalationSpec,
    QuietHours,
    RetrySpec,
    Strict,
    TaskKind,
    parse_duration,
)
from contracts.step_graph import check_fallbacks, check_template
from contracts.steps import TEMPLATE_WORKFLOW, ScheduleSpec, Step, parse_steps
from contracts.windows import SendWindow, open_minutes

__all__ = [
    "Channel",
    "EscalationSpec",
    "MessageTemplate",
    "PredictionRule",
    "QuietHours",
    "RetrySpec",
    "SequenceParams",
    "Strict",
    "TaskKind",
    "TriggerSpec",
    "parse_duration",
]

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


class PredictionRule(Strict):
    """A prediction trigger's rule: both thresholds must be exceeded."""

    probability_gt: float = Field(ge=0.0, le=1.0)
    confidence_gt: float = Field(ge=0.0, le=100.0)

    def matches(self, probability: float, confidence: float) -> bool:
        return probability > self.probability_gt and confidence > self.confidence_gt


class TriggerSpec(Strict):
    """How a template starts: by prediction, named event, schedule, or only by hand."""

    type: Literal["prediction", "event", "schedule", "manual"] = "manual"
    when: PredictionRule | None = None
    event: str | None = None
    schedule: ScheduleSpec | None = None
    # No second start of this template for a family within this many days of the last one.
    cooldown_days: int = Field(default=0, ge=0)


class MessageTemplate(Strict):
    """A message body (and subject for email), rendered with the family's data."""

    subject: str | None = None
    body: str


class SequenceParams(Strict):
    """One version of a template: which workflow runs it and with what settings."""

    name: str
    version: int = Field(default=1, ge=1)
    workflow: str
    description: str = ""
    # Governance: the team or person accountable for the template (its escalations go to
    # them unless `escalation.assign_to` says otherwise) and its quota of running sequences.
    owner: str | None = Field(default=None, min_length=1, max_length=100)
    max_active: int | None = Field(default=None, ge=1)
    active: bool = True
    priority: int = Field(default=5, ge=0, le=10)
    urgent: bool = False
    # A safety template (a welfare check, a safeguarding call) must reach every family it
    # matches: it may not hold any of them out.
    safety: bool = False
    # Refuse a start while the family already has this many sequences running (any template).
    max_active_per_family: int | None = Field(default=None, ge=1)
    trigger: TriggerSpec = Field(default_factory=lambda: TriggerSpec())
    quiet_hours: QuietHours | None = QuietHours()
    retry: RetrySpec = RetrySpec()
    escalation: EscalationSpec = EscalationSpec()
    approver_roles: list[str] = ["coordinator", "director"]
    delays: dict[str, timedelta] = {}
    messages: dict[str, MessageTemplate] = {}
    # Per family and channel, across every sequence; a capped send waits for the next slot.
    # The registry's defaults (`contracts.channels`) unless the template sets its own.
    caps: dict[Channel, FrequencyCap] = Field(default_factory=channels.default_caps)
    # A send that may have gone out (the worker stopped between the provider call and its
    # record) to a provider that ignores Idempotency-Key: `ask` a coordinator, or `resend`.
    on_uncertain: Literal["ask", "resend"] = "ask"
    # Local hours per channel in which its messages go out, inside the hours quiet hours allow;
    # a channel not named here keeps the registry's default window (if it has one).
    send_windows: dict[Channel, SendWindow] = {}
    # Where a fallback that went out on a channel falls back in turn (null: nowhere), over
    # the registry's defaults (an SMS fallback that fails becomes a call task).
    fallbacks: dict[Channel, Channel | None] = {}
    # Send each message at the local hour the family answered most often (inside the window).
    best_hour: bool = False
    # Data-defined sequences only (workflow TemplateIntervention): the steps to interpret.
    steps: list[Step] | None = None
    # Events (or `response_received`) that end the sequence: a data-defined one before its
    # next step, the payment reminder and onboarding at once, even in the middle of a wait.
    stop_when: list[str] = []
    # Measuring impact: this share of the families a start would reach get no sequence (the
    # held-out group), chosen by a hash of the template's name, the family and `holdout_salt`.
    # Changing either makes a new version; assignments already made stand.
    holdout_percent: int = Field(default=0, ge=0, le=50)
    holdout_salt: str = Field(default="", max_length=100)
    # The family outcome that counts as success, and what a family with no outcome recorded
    # by the end of its window counts as (no withdrawal recorded = retained, say).
    success_outcome: str | None = Field(default=None, min_length=1, max_length=100)
    no_outcome_means: Literal["success", "failure"] = "failure"

    @model_validator(mode="before")
    @classmethod
    def _owner_receives_escalations(cls, data: Any) -> Any:
        # An owner without an explicit assignee is who the template's escalations go to.
        if isinstance(data, dict) and data.get("owner"):
            escalation = data.get("escalation") or {}
            if isinstance(escalation, dict) and "assign_to" not in escalation:
                return {**data, "escalation": {**escalation, "assign_to": data["owner"]}}
        return data

    @model_validator(mode="before")
    @classmethod
    def _steps_default_workflow(cls, data: Any) -> Any:
        # A step list needs no `workflow:` line: it can only run on the interpreter.
        if isinstance(data, dict) and data.get("steps") is not None and "workflow" not in data:
            return {**data, "workflow": TEMPLATE_WORKFLOW}
        return data

    @field_validator("steps", mode="before")
    @classmethod
    def _steps(cls, value: Any) -> list[Step] | None:
        return None if value is None else parse_steps(value)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError("use lower-case letters, digits and underscores, starting a letter")
        return value

    @field_validator("delays", mode="before")
    @classmethod
    def _delays(cls, value: Any) -> dict[str, timedelta]:
        if not isinstance(value, dict):
            raise ValueError("delays must be a mapping of name to duration")
        return {str(k): parse_duration(v) for k, v in value.items()}

    @model_validator(mode="after")
    def _trigger_rule(self) -> SequenceParams:
        if self.trigger.type == "prediction" and self.trigger.when is None:
            raise ValueError("trigger.when is required for a prediction trigger")
        if self.trigger.type == "event" and not self.trigger.event:
            raise ValueError("trigger.event is required for an event trigger")
        if self.trigger.type == "schedule" and self.trigger.schedule is None:
            raise ValueError("trigger.schedule is required for a schedule trigger")
        check_fallbacks(self.fallbacks)
        check_template(
            self.steps,
            workflow=self.workflow,
            messages=set(self.messages),
            approver_roles=self.approver_roles,
            fallbacks=self.fallbacks,
        )
        return self

    @model_validator(mode="after")
    def _send_windows(self) -> SequenceParams:
        quiet = self.quiet_hours
        # A channel's default window counts for the channels the steps send on.
        defaults = {
            channel: window
            for channel in self.step_channels()
            if channel not in self.send_windows
            and (window := channels.spec(channel).send_window) is not None
        }
        for channel, window in {**self.send_windows, **defaults}.items():
            where = f"send_windows.{channel}" + (
                " (the channel's default)" if channel in defaults else ""
            )
            if not channels.spec(channel).is_message:
                raise ValueError(f"{where}: windows apply to messages, not {channel} tasks")
            if quiet is not None and not open_minutes(window, quiet.start, quiet.end):
                raise ValueError(
                    f"{where}: {window.describe()} lies entirely in quiet hours "
                    f"({quiet.start:%H:%M}–{quiet.end:%H:%M}); nothing could be sent"
                )
        return self

    @model_validator(mode="after")
    def _holdout(self) -> SequenceParams:
        if self.holdout_percent == 0:
            return self
        if self.urgent:
            raise ValueError(
                "holdout_percent: an urgent template reaches every family it matches at once; "
                "holding some out would withhold an urgent sequence (set it to 0)"
            )
        if self.safety:
            raise ValueError(
                "holdout_percent: a safety template (safety: true) must reach every family it "
                "matches; a holdout would leave some without it (set it to 0)"
            )
        if self.success_outcome is None:
            raise ValueError(
                "success_outcome: a holdout is measured by an outcome; name the one that "
                "counts as success (e.g. success_outcome: retained)"
            )
        return self

    def step_channels(self) -> set[Channel]:
        """The channels a data-defined template's steps and their fallbacks send on."""
        used: set[Channel] = set()
        for step in self.steps or []:
            own, fallback = step.channel, channels.find(step.fallback)
            if own is not None:
                used.add(own.channel)
            if own is not None and fallback is not None:
                used.update(channels.fallback_chain(fallback.channel, self.fallbacks))
        return used

    @property
    def accountable(self) -> str:
        """Who answers for the template: its owner, else whoever its escalations go to."""
        return self.owner or self.escalation.assign_to

    def delay(self, key: str) -> timedelta:
        """A named delay; a sequence class names the delays it needs."""
        try:
            return self.delays[key]
        except KeyError:
            raise KeyError(f"template {self.name!r} has no delay {key!r}") from None
