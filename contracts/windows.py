"""Send windows: the local hours in which a channel's messages go out (e.g. SMS 16:00-19:00).

A window narrows the hours outside quiet hours; it never widens them. Kept apart from the
sequence contracts so the pure timing module and the templates can both use it.
"""

from __future__ import annotations

from datetime import time

from pydantic import BaseModel, ConfigDict, model_validator


class SendWindow(BaseModel):
    """Local wall-clock hours `[start, end)` in the family's time zone; may wrap midnight."""

    model_config = ConfigDict(extra="forbid")

    start: time
    end: time

    @model_validator(mode="after")
    def _not_empty(self) -> SendWindow:
        if _plain(self.start) == _plain(self.end):
            raise ValueError("start and end must differ (a window of no hours sends nothing)")
        return self

    def contains(self, clock: time) -> bool:
        """Whether a local wall-clock time falls inside the window."""
        start, end, clock = _plain(self.start), _plain(self.end), _plain(clock)
        if start < end:
            return start <= clock < end
        return clock >= start or clock < end

    def describe(self) -> str:
        """`16:00–19:00`, for summaries, reasons and listings."""
        return f"{_clock(self.start)}–{_clock(self.end)}"


def open_minutes(window: SendWindow, quiet_start: time | None, quiet_end: time | None) -> int:
    """How many minutes of a day the window leaves open once quiet hours are taken out."""
    open_ = _minutes(window.start, window.end)
    if quiet_start is not None and quiet_end is not None:
        open_ -= _minutes(quiet_start, quiet_end)
    return len(open_)


def _minutes(start: time, end: time) -> set[int]:
    """The minutes of a day in `[start, end)`, wrapping midnight; none when they are equal."""
    first = _plain(start).hour * 60 + _plain(start).minute
    last = _plain(end).hour * 60 + _plain(end).minute
    if first <= last:
        return set(range(first, last))
    return set(range(first, 24 * 60)) | set(range(0, last))


def _plain(clock: time) -> time:
    return clock.replace(tzinfo=None)


def _clock(clock: time) -> str:
    clock = _plain(clock)
    return clock.isoformat() if clock.second or clock.microsecond else clock.strftime("%H:%M")


class AnswerHoursRequest(BaseModel):
    """Local activity `answer_hours`: when has this family answered before?"""

    family_id: str


class AnswerHours(BaseModel):
    """How often the family answered in each local hour (0-23) of its time zone."""

    hours: dict[int, int] = {}
