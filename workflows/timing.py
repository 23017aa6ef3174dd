"""When a step may run: quiet hours, weekends and fixed send times in the family's time zone.

Pure and deterministic so workflow code can call it (import it passed through): the only
inputs are the arguments, it never reads the clock. Day arithmetic is done on local wall-clock
dates and converted with `ZoneInfo`, never by adding 24 hours to a UTC instant, so a day that
is 23 or 25 hours long still lands on the intended local time.

DST: a wall time skipped by a spring-forward gap resolves to the first instant after the gap;
a wall time repeated by a fall-back fold resolves to its first occurrence, or to the second
when the first is already earlier than the instant being placed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from contracts import QuietHours
from contracts.windows import SendWindow, open_minutes

_SATURDAY = 5
# Every move goes strictly forward and settles within a few (quiet → weekend → Monday); the
# bound only turns an impossible endless loop into a visible error.
_MAX_MOVES = 16


@dataclass(frozen=True)
class Placement:
    """Where a step landed: `at` in UTC for the workflow timer, `local` for people to read."""

    at: datetime
    local: datetime
    reason: str | None
    moved: bool


def is_valid_timezone(name: str) -> bool:
    """Whether `name` is an IANA zone key this host can load, e.g. `America/New_York`."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return False
    return True


def next_allowed_time(
    due: datetime,
    timezone: str,
    quiet: QuietHours | None,
    *,
    urgent: bool = False,
    at: time | None = None,
    window: SendWindow | None = None,
) -> Placement:
    """When a step due at `due` may run for this family: never earlier than `due`.

    With `at`, the step first moves to the next local wall-clock `at` (today if not yet
    passed). Then, unless `urgent`, it leaves quiet hours for their local end and, when
    `quiet.weekends`, leaves Saturday and Sunday for Monday at the quiet end (00:00 without
    quiet hours); with a channel's send `window`, a time outside it moves to the window's
    next local start. This repeats until none applies, so the result is the first instant at
    or after `due` that all of them allow. `at`, `quiet.start`, `quiet.end` and the window are
    local wall-clock times in `timezone`. Raises ValueError for a naive `due`, an unknown
    zone, or a window that lies entirely in quiet hours.
    """
    if due.tzinfo is None or due.utcoffset() is None:
        raise ValueError(f"due must be timezone-aware, got {due!r}")
    if not is_valid_timezone(timezone):
        raise ValueError(f"unknown time zone: {timezone!r}")
    zone = ZoneInfo(timezone)
    start = due.astimezone(UTC)
    current = start
    reasons: list[str] = []

    if at is not None:
        current = _next_wall_time(current, _wall(at), zone, strict=False)
        if current != start:
            reasons.append(f"at {_clock(at)} local")

    if not urgent and (quiet is not None or window is not None):
        if (
            window is not None
            and quiet is not None
            and not open_minutes(window, quiet.start, quiet.end)
        ):
            raise ValueError(f"send window {window.describe()} lies entirely in quiet hours")
        current = _leave_quiet_and_weekends(current, zone, quiet, reasons, window)

    return Placement(
        at=current,
        local=current.astimezone(zone),
        reason="; ".join(reasons) if reasons else None,
        moved=current != start,
    )


def allowed_until(
    start: datetime,
    timezone: str,
    quiet: QuietHours | None,
    *,
    window: SendWindow | None = None,
) -> datetime | None:
    """The end of the allowed hours that hold `start`: the first instant after it that quiet
    hours, the weekend or the send window rule out, or None when nothing ever does.

    `start` itself when it is ruled out already. A send placed at `start` carries this as its
    `send_by`: when it waited in its channel's queue until then, it is refused and placed
    again (`next_allowed_time`) rather than sent at night.
    """
    if quiet is None and window is None:
        return None
    if next_allowed_time(start, timezone, quiet, window=window).moved:
        return start
    zone = ZoneInfo(timezone)
    ends: list[datetime] = []
    if quiet is not None and _wall(quiet.start) != _wall(quiet.end):
        ends.append(_next_wall_time(start, _wall(quiet.start), zone, strict=True))
    if quiet is not None and quiet.weekends:
        local = start.astimezone(zone).date()  # a weekday: `start` is allowed
        saturday = local + timedelta(days=_SATURDAY - local.weekday())
        ends.append(_occurrences(saturday, time(0), zone)[0])
    if window is not None:
        ends.append(_next_wall_time(start, _wall(window.end), zone, strict=True))
    return min(ends) if ends else None


def _leave_quiet_and_weekends(
    current: datetime,
    zone: ZoneInfo,
    quiet: QuietHours | None,
    reasons: list[str],
    window: SendWindow | None = None,
) -> datetime:
    quiet = quiet or QuietHours(start=time(0), end=time(0), weekends=False)
    begin, end = _wall(quiet.start), _wall(quiet.end)
    for _ in range(_MAX_MOVES):
        local = current.astimezone(zone)
        if quiet.weekends and local.weekday() >= _SATURDAY:
            monday = local.date() + timedelta(days=7 - local.weekday())
            # With a window, Monday's first allowed minute may come before the quiet end
            # (quiet hours that do not wrap midnight): start at midnight and let the loop go on.
            opening = end if begin != end and window is None else time(0)
            current = _occurrences(monday, opening, zone)[0]
            _note(reasons, "weekend")
        elif _in_quiet_hours(local.time(), begin, end):
            # Strictly after: a quiet end inside a DST gap resolves to the gap's end, which
            # may itself still be quiet; that day then has no allowed time and we go on.
            current = _next_wall_time(current, end, zone, strict=True)
            _note(reasons, f"quiet hours ({_clock(begin)}–{_clock(end)} local)")
        elif window is not None and not window.contains(local.time()):
            # Strictly after, for the same reason: a window start inside a DST gap resolves
            # to the gap's end, which may lie past a short window's end.
            current = _next_wall_time(current, _wall(window.start), zone, strict=True)
            _note(reasons, f"send window ({window.describe()} local)")
        else:
            return current
    raise RuntimeError(f"no allowed time found after {_MAX_MOVES} moves from {current}")


def _in_quiet_hours(clock: time, begin: time, end: time) -> bool:
    if begin == end:
        return False
    if begin < end:
        return begin <= clock < end
    return clock >= begin or clock < end  # wraps midnight, e.g. 20:00–08:00


def _next_wall_time(after: datetime, clock: time, zone: ZoneInfo, *, strict: bool) -> datetime:
    """The first UTC instant at (or strictly after) `after` whose local wall time is `clock`."""
    day = after.astimezone(zone).date()
    while True:  # ends: each later day's occurrences are later instants
        for instant in _occurrences(day, clock, zone):
            if instant > after or (instant == after and not strict):
                return instant
        day += timedelta(days=1)


def _occurrences(day: date, clock: time, zone: ZoneInfo) -> list[datetime]:
    """UTC instants whose local wall time is `day` `clock`, earliest first: two in a fold,
    one normally, and for a time skipped by a gap the first instant after the gap."""
    wall = datetime.combine(day, clock)
    found: list[datetime] = []
    for fold in (0, 1):
        instant = wall.replace(tzinfo=zone, fold=fold).astimezone(UTC)
        if _local_wall(instant, zone) == wall and instant not in found:
            found.append(instant)
    return sorted(found) if found else [_end_of_gap(wall, zone)]


def _end_of_gap(wall: datetime, zone: ZoneInfo) -> datetime:
    """The transition instant that skips over `wall`, found by bisection between the two
    readings PEP 495 gives a missing time (zoneinfo does not expose its transitions)."""
    low, high = sorted(wall.replace(tzinfo=zone, fold=f).astimezone(UTC) for f in (0, 1))
    # Invariant: local(low) < wall < local(high).
    while high - low > timedelta(microseconds=1):
        middle = low + (high - low) // 2
        if _local_wall(middle, zone) > wall:
            high = middle
        else:
            low = middle
    return high


def _local_wall(instant: datetime, zone: ZoneInfo) -> datetime:
    return instant.astimezone(zone).replace(tzinfo=None)


def _wall(clock: time) -> time:
    # Settings are local wall-clock times; an offset on them would contradict the zone.
    return clock.replace(tzinfo=None)


def _clock(clock: time) -> str:
    if clock.second or clock.microsecond:
        return clock.replace(tzinfo=None).isoformat()
    return clock.strftime("%H:%M")


def _note(reasons: list[str], reason: str) -> None:
    if reason not in reasons:
        reasons.append(reason)
