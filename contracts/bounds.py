"""Size limits of what a sequence keeps in its state, and the helpers that hold them.

A running sequence's state travels whole in every `status` answer and into every next run of
a looping template, and Temporal refuses a payload over 2 MB. So what people and providers
send is refused when it is too long (a note, a reason, an event's data), what the sequence
writes itself is clipped (a provider's error text), and every list that outside input can
grow keeps its newest entries and counts the ones it let go.
"""

from __future__ import annotations

import json
import math
from typing import Any, TypeVar

T = TypeVar("T")

NOTE_MAX = 1000  # a person's note on a decision, an escalation answer or a cancel
REPLY_MAX = 2000  # a family's reply as a provider hands it over (a long SMS is 1600)
EVENT_DATA_MAX = 4096  # bytes of an event's data, as JSON
TEXT_KEPT = 1000  # characters of a step's result or error (provider texts can be pages)

# How many entries each list of a sequence's state keeps (the newest); the rest are counted.
KEPT = {
    "responses": 50,
    "events": 50,
    "decisions": 50,
    "queued_decisions": 20,
    "bounces": 50,
}

# Compensations a sequence keeps. Unlike the lists above none may be let go: each must run
# if the sequence is called off. A code-defined sequence registers at most two; a looping
# template one per pass of each compensating step (a weekly loop with one such step takes
# about two years to reach the cap). At the cap, a step that would register another is not
# taken, so every compensation kept can still run. An escalation's task holds one more for
# as long as it waits.
UNDOS_MAX = 100


def keep_last(items: list[T], limit: int) -> int:
    """Trim `items` in place to its newest `limit` entries; how many were let go."""
    extra = len(items) - limit
    if extra <= 0:
        return 0
    del items[:extra]
    return extra


def clip(text: str | None, limit: int = TEXT_KEPT) -> str | None:
    """`text`, cut to `limit` characters with an ellipsis when longer."""
    if text is None or len(text) <= limit:
        return text
    return text[: limit - 1] + "…"


def non_finite(value: Any, path: str = "") -> str | None:
    """The path of the first NaN or infinite number in a JSON-like value, if any."""
    if isinstance(value, float) and not math.isfinite(value):
        return path or "value"
    if isinstance(value, dict):
        for key, item in value.items():
            found = non_finite(item, f"{path}.{key}" if path else str(key))
            if found is not None:
                return found
    if isinstance(value, list | tuple):
        for index, item in enumerate(value):
            found = non_finite(item, f"{path}[{index}]")
            if found is not None:
                return found
    return None


def check_event_data(data: dict[str, Any]) -> dict[str, Any]:
    """An event's data, refused when a number in it is not finite or it is too large."""
    bad = non_finite(data)
    if bad is not None:
        raise ValueError(f"{bad}: not a finite number")
    size = len(json.dumps(data, default=str).encode())
    if size > EVENT_DATA_MAX:
        raise ValueError(f"is {size} bytes as JSON; at most {EVENT_DATA_MAX} are kept")
    return data
