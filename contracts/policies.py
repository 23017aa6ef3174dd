"""The small parts a template is built from: channels, task kinds, durations, quiet hours,
and the retry and escalation policies."""

from __future__ import annotations

import math
import re
from datetime import time, timedelta
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_TIMEDELTA = TypeAdapter(timedelta)
# The longest duration a template may name: past it a wait, delay or timeout is a typo, and a
# few digits more would not fit a timedelta at all.
MAX_DURATION = timedelta(days=3650)


def parse_duration(value: Any) -> timedelta:
    """Read `90s`, `5m`, `2h`, `3d`, `1w`, a number of seconds, or a timedelta.

    Anything negative, not finite or longer than `MAX_DURATION` (ten years) is refused."""
    if isinstance(value, timedelta):
        return _at_most_max(value, value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        if not math.isfinite(value):
            raise ValueError(f"not a duration: {value!r} (a number of seconds must be finite)")
        if value < 0:
            raise ValueError("a duration cannot be negative")
        return _seconds(value, value)
    if isinstance(value, str):
        match = _DURATION.match(value)
        if match:
            return _seconds(float(match.group(1)) * _UNITS[match.group(2)], value)
        try:  # pydantic's own ISO 8601 form, e.g. what a snapshot serialises to
            read = _TIMEDELTA.validate_python(value)
        except ValueError:
            read = None
        if read is not None and read >= timedelta(0):
            return _at_most_max(read, value)
    raise ValueError(f"not a duration: {value!r} (use e.g. 30s, 5m, 2h, 3d, 1w)")


def _seconds(seconds: float, written: Any) -> timedelta:
    if not seconds <= MAX_DURATION.total_seconds():  # also false for a NaN
        raise _too_long(written)
    return timedelta(seconds=seconds)


def _at_most_max(value: timedelta, written: Any) -> timedelta:
    if value > MAX_DURATION:
        raise _too_long(written)
    return value


def _too_long(written: Any) -> ValueError:
    days = MAX_DURATION.days
    return ValueError(f"too long: {written!r} is more than {days}d (ten years), the longest")


class Strict(BaseModel):
    """Base for every contract read from an operator: unknown fields are errors."""

    model_config = ConfigDict(extra="forbid", frozen=False)


class Channel(StrEnum):
    EMAIL = "email"
    SMS = "sms"
    CALL = "call"
    WHATSAPP = "whatsapp"


class TaskKind(StrEnum):
    CALL = "call"
    TASK = "task"
    ESCALATION = "escalation"


class QuietHours(Strict):
    """Local hours in which nothing is sent, in the family's time zone."""

    start: time = time(20, 0)
    end: time = time(8, 0)
    weekends: bool = True


class RetrySpec(Strict):
    """How a failing provider call is retried before the fallback or escalation."""

    max_attempts: int = Field(default=3, ge=1, le=50)
    initial_interval: timedelta = timedelta(seconds=5)
    backoff: float = Field(default=2.0, ge=1.0, le=10.0)
    max_interval: timedelta = timedelta(hours=1)
    # How long one attempt may take before Temporal retries it elsewhere: what bounds the
    # wait after a worker dies mid-send.
    attempt_timeout: timedelta = timedelta(seconds=30)

    @field_validator("initial_interval", "max_interval", "attempt_timeout", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> timedelta:
        return parse_duration(value)


class EscalationSpec(Strict):
    """Who is asked when automation fails or waits on a person, and for how long."""

    assign_to: str = "coordinator"
    timeout: timedelta = timedelta(days=2)
    on_timeout: Literal["cancel", "skip", "proceed"] = "cancel"

    @field_validator("timeout", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> timedelta:
        return parse_duration(value)
