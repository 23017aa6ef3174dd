"""Best-hour placement: send at the local hour at which the family has answered most often.

Asked for by a template with `best_hour: true`. The history is read by a local activity (one
marker event per send); the choice itself is the pure `pick_hour`, inside the channel's send
window when there is one, and falls back to the window's start without a usable history.
Only templates that ask for it run any of this, so older histories replay unchanged.
"""

from __future__ import annotations

from datetime import time, timedelta
from typing import TYPE_CHECKING

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.best_hour import ResponseHistoryActivities
    from contracts import Channel
    from contracts.windows import AnswerHoursRequest, SendWindow

if TYPE_CHECKING:
    from workflows.blocks import Intervention

HISTORY_TIMEOUT = timedelta(seconds=10)


def pick_hour(hours: dict[int, int], window: SendWindow | None) -> tuple[time | None, str]:
    """The local send time and the reason shown in status and simulate.

    The most frequent answer hour inside the window (the earliest of a tie); without one,
    the window's start, or no particular time when there is no window either.
    """
    inside = {
        hour: count
        for hour, count in hours.items()
        if count > 0 and (window is None or _hour_open(hour, window))
    }
    if inside:
        best = min(inside, key=lambda hour: (-inside[hour], hour))
        total = sum(c for c in hours.values() if c > 0)
        clock = time(best, 0)
        if window is not None and not window.contains(clock):
            clock = window.start  # the window opens inside that hour, e.g. 16:30
        return clock, f"best hour {clock:%H:%M} ({inside[best]} of {total} past answers)"
    if window is not None:
        why = "no past answers" if not any(hours.values()) else "no past answers in the window"
        return window.start, f"best hour: {why}, window start {window.start:%H:%M}"
    return None, "best hour: no past answers"


def _hour_open(hour: int, window: SendWindow) -> bool:
    """Whether any minute of the local hour lies in the window."""
    return any(window.contains(time(hour, minute)) for minute in range(60))


async def best_hour(flow: Intervention, channel: Channel) -> tuple[time | None, str]:
    """Read the family's answer hours and pick the send time for `channel`."""
    history = await workflow.execute_local_activity_method(
        ResponseHistoryActivities.answer_hours,
        AnswerHoursRequest(family_id=flow.start.family_id),
        start_to_close_timeout=HISTORY_TIMEOUT,
        summary="Read when the family answered before",
    )
    return pick_hour(history.hours, flow.params.send_windows.get(channel))
