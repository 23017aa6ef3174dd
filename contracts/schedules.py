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
    # The workflow changes on when the schedule was written, as `InterventionStart.changes`.
    changes: int = Field(default=0, ge=0)


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


class StartPageRequest(BaseModel):
    """Start the template's sequence for the matching families among the next page of them.

    Families are read in id order, `limit` at a time after `after`: a run over any number
    of families passes a cursor and counts, never the list of ids."""

    template: str
    triggered_by: str
    # The version the run started with (None on the first page: the one active now).
    version: int | None = None
    after: str | None = None
    limit: int = Field(default=100, ge=1, le=1000)


class StartPageResult(BaseModel):
    """One page: how many families matched, what each start did (counted), and the cursor."""

    # The version used (None: the template is no longer an active schedule).
    version: int | None = None
    matched: int = 0
    counts: dict[str, int] = {}
    starts: list[StartedSequence] = []  # the page's last few
    next_after: str | None = None  # None: that was the last page


class ScheduledRunResult(BaseModel):
    """What a scheduled run did: counts by outcome, and the last starts, family by family."""

    template: str
    version: int | None
    matched: int
    starts: list[StartedSequence] = []  # the newest `STARTS_KEPT` (every one before pages)
    counts: dict[str, int] = {}  # outcome -> families, over the whole run

    def count(self, outcome: str) -> int:
        if self.counts:
            return self.counts.get(outcome, 0)
        return sum(1 for start in self.starts if start.outcome == outcome)
