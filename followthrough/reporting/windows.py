"""Outcome windows: which of a family's outcomes belong to a decision or a prediction.

A decision (a sequence started, or the family held out) or a prediction opens a window of
`window_days` (the prediction's, 30 when it gave none). An outcome recorded inside the window
belongs to it; the latest one decides. A window counts once it has an outcome or has closed;
until then it is pending and left out of every rate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

DEFAULT_WINDOW_DAYS = 30

Verdict = Literal["success", "failure", "pending"]


@dataclass(frozen=True)
class Window:
    """[opens, opens + days) for one family."""

    family_id: str
    opens: datetime
    days: int

    @classmethod
    def of(cls, family_id: str, opens: datetime, days: int | None) -> Window:
        return cls(family_id, opens, DEFAULT_WINDOW_DAYS if days is None else days)

    @property
    def closes(self) -> datetime:
        return self.opens + timedelta(days=self.days)

    def holds(self, at: datetime) -> bool:
        return self.opens <= at < self.closes

    def last_outcome(self, outcomes: Sequence[tuple[str, datetime]]) -> str | None:
        """The latest of the family's outcomes (oldest first) inside the window, or None."""
        inside = [name for name, at in outcomes if self.holds(at)]
        return inside[-1] if inside else None


def success_verdict(
    window: Window,
    outcomes: Sequence[tuple[str, datetime]],
    *,
    success_outcome: str,
    no_outcome_means: str,
    now: datetime,
) -> Verdict:
    """Success or failure by the template's rule; pending while the window is open and empty.

    The latest outcome in the window decides: `success_outcome` is a success, any other one a
    failure. No outcome once the window has closed counts as `no_outcome_means`.
    """
    last = window.last_outcome(outcomes)
    if last is not None:
        return "success" if last == success_outcome else "failure"
    if now < window.closes:
        return "pending"
    return "success" if no_outcome_means == "success" else "failure"


def event_seen(
    window: Window,
    outcomes: Sequence[tuple[str, datetime]],
    *,
    is_event: set[str] | None,
    not_event: set[str],
    now: datetime,
) -> bool | None:
    """Whether the predicted event happened in the window; None while it is open and quiet.

    The event is an outcome named in `is_event` when given, else any outcome not in
    `not_event` (the outcomes templates count as success).
    """
    for name, at in outcomes:
        if not window.holds(at):
            continue
        if (name in is_event) if is_event is not None else (name not in not_event):
            return True
    return None if now < window.closes else False
