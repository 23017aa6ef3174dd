"""Best-hour placement: send in the local hour at which the family has answered most often.

Asked for by a template with `best_hour: true`. The history is read by a local activity (one
marker event per send, `Intervention.best_hour`); the choice is the pure `pick_hour` here: an
hour-long send window, inside the channel's own window when there is one, that the timing
function then applies like any window (so a step moved past a weekend still lands in that
hour). Without a usable history it falls back to the first open hour of the channel's window.
"""

from __future__ import annotations

from datetime import time

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from contracts import QuietHours
    from contracts.windows import SendWindow, open_minutes


def hour_window(hour: int, window: SendWindow | None) -> SendWindow | None:
    """The local hour `hour` as a send window, cut to `window`; None when they do not meet."""
    start, end = time(hour, 0), time((hour + 1) % 24, 0)
    if window is None:
        return SendWindow(start=start, end=end)
    minutes = [time(hour, m) for m in range(60) if window.contains(time(hour, m))]
    if not minutes:
        return None
    last = minutes[-1]
    after = time((hour + 1) % 24, 0) if last.minute == 59 else time(hour, last.minute + 1)
    return SendWindow(start=minutes[0], end=after)


def pick_hour(
    hours: dict[int, int], window: SendWindow | None, quiet: QuietHours | None = None
) -> tuple[SendWindow | None, str]:
    """The send window for this step and the reason shown in status and simulate.

    The hour the family answered in most often (the earliest of a tie), among the hours that
    meet the channel's window and are not all quiet; without one, the first such hour from
    the window's start; with neither a history nor a window, no particular hour.
    """
    usable = {hour: hw for hour in range(24) if (hw := _usable(hour, window, quiet)) is not None}
    counted = {hour: count for hour, count in hours.items() if count > 0 and hour in usable}
    if counted:
        best = min(counted, key=lambda hour: (-counted[hour], hour))
        total = sum(count for count in hours.values() if count > 0)
        chosen = usable[best]
        return chosen, f"best hour {chosen.start:%H:%M} ({counted[best]} of {total} past answers)"
    if window is None:
        why = "no past answers" if not any(hours.values()) else "no past answers out of quiet hours"
        return None, f"best hour: {why}"
    why = "no past answers" if not any(hours.values()) else "no past answers in the window"
    first = min(usable, key=lambda hour: (hour - window.start.hour) % 24)
    return usable[first], f"best hour: {why}, window start {usable[first].start:%H:%M}"


def _usable(hour: int, window: SendWindow | None, quiet: QuietHours | None) -> SendWindow | None:
    candidate = hour_window(hour, window)
    if candidate is None:
        return None
    if quiet is not None and not open_minutes(candidate, quiet.start, quiet.end):
        return None
    return candidate
