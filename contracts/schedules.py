"""Schedule triggers: what the scheduled dispatcher workflow and its activities exchange.

A template with `trigger.type: schedule` becomes a Temporal Schedule whose action starts
`ScheduledTrigger` with a `ScheduledRun`; the dispatcher finds the families matching the
template's filter and starts each family's sequence.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from contracts.sequences import SequenceParams


class ScheduledRun(BaseModel):
    """Input of `ScheduledTrigger`: which template's schedule fired."""

    template: str
    schedule_id: str


class MatchFamiliesRequest(BaseModel):
    """Find the families a scheduled template should start for, now."""

    template: str


class MatchFamiliesResult(BaseModel):
    """The template as it is active now (None: deactivated) and the matching family ids."""

    params: SequenceParams | None
    family_ids: list[str] = []


class StartScheduledRequest(BaseModel):
    """Start the template's sequence for a batch of families (idempotent per family)."""

    params: SequenceParams
    family_ids: list[str] = Field(min_length=1)
    triggered_by: str


class StartedSequence(BaseModel):
    """What one start did: `started`, `already_running`, `cooldown`, `refused`, `suspended`."""

    family_id: str
    workflow_id: str | None
    outcome: str
    message: str


class StartScheduledResult(BaseModel):
    starts: list[StartedSequence]


class ScheduledRunResult(BaseModel):
    """What a scheduled run did, family by family."""

    template: str
    version: int | None
    matched: int
    starts: list[StartedSequence] = []

    def count(self, outcome: str) -> int:
        return sum(1 for start in self.starts if start.outcome == outcome)
