"""What a signal brings, checked inside the workflow: any JSON in, the contract or one line why not.

A signal's handler takes its input as it arrives (a raw payload), so a malformed one from
`temporal workflow signal` is neither dropped by the SDK nor able to fail the workflow task:
`check_signal` fills the signal's contract or names the first field that is wrong, and the
sequence records the refusal (`RejectedSignal`) in its status and its audit trail.
"""

from __future__ import annotations

from datetime import datetime
from difflib import get_close_matches
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)

# The fields that name who sent a signal (`approve`/`reject`: the approver; the rest: `by`).
SENDER_FIELDS = ("approver", "by")
SENDER_SHOWN = 100  # characters of a sender name kept in a rejection


class RejectedSignal(BaseModel):
    """A signal the sequence refused: which, from whom, why and when."""

    signal: str
    sender: str | None = None
    reason: str
    at: datetime

    def describe(self) -> str:
        """`rejected approve from sarah: role is required`."""
        who = f" from {self.sender}" if self.sender else ""
        return f"rejected {self.signal}{who}: {self.reason}"


def check_signal(model: type[M], value: Any) -> tuple[M | None, str | None]:
    """The signal's contract filled from `value`, or None and one line saying why not."""
    try:
        return model.model_validate(value), None
    except ValidationError as err:
        return None, problem(err) + misspelling(err, value)


def problem(err: ValidationError) -> str:
    """The first wrong field and why, in one line: `role is required`, `channel: ...`."""
    errors = err.errors()
    first = errors[0]
    field = ".".join(str(part) for part in first["loc"])
    if not field:
        return "input: must be a JSON object"
    missing = first["type"] == "missing"
    line = f"{field} is required" if missing else f"{field}: {first['msg']}"
    more = len(errors) - 1
    return line + (f" (and {more} more)" if more else "")


def misspelling(err: ValidationError, value: Any) -> str:
    """` (is 'aprover' meant to be approver?)` when a missing field has a near-namesake given."""
    first = err.errors()[0]
    if first["type"] != "missing" or not isinstance(value, dict) or len(first["loc"]) != 1:
        return ""
    wanted = str(first["loc"][0])
    given = [str(key)[:SENDER_SHOWN] for key in value if str(key).isprintable()]
    near = get_close_matches(wanted, given, n=1, cutoff=0.75)
    return f" (is '{near[0]}' meant to be {wanted}?)" if near else ""


def sender_of(value: Any) -> str | None:
    """Who sent a signal, as far as its input says (even a malformed one)."""
    if not isinstance(value, dict):
        return None
    for name in SENDER_FIELDS:
        sender = value.get(name)
        if isinstance(sender, str) and sender.strip():
            return sender.strip()[:SENDER_SHOWN]
    return None
