"""allowed_until: where the allowed hours holding an instant end, the `send_by` of a send."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from contracts import QuietHours
from contracts.windows import SendWindow
from tests.workflows.test_timing import FAST, NEW_YORK, NIGHT, cases, quiet_hours, windows
from workflows.timing import allowed_until, next_allowed_time

maybe_windows = st.one_of(st.none(), windows)


def _allowed(instant: datetime, zone: str, quiet: QuietHours | None, window: SendWindow | None):
    return not next_allowed_time(instant, zone, quiet, window=window).moved


def _open(quiet: QuietHours | None, window: SendWindow | None) -> bool:
    """Some hour of the day is allowed (a window inside quiet hours allows none)."""
    try:
        next_allowed_time(
            datetime(2026, 1, 5, 12, tzinfo=ZoneInfo("UTC")), "UTC", quiet, window=window
        )
    except ValueError:
        return False
    return True


@FAST
@given(cases, quiet_hours, maybe_windows)
def test_the_end_is_the_first_instant_ruled_out(
    case: tuple[str, datetime], quiet: QuietHours | None, window: SendWindow | None
) -> None:
    assume(_open(quiet, window))
    zone, start = case
    start = next_allowed_time(start, zone, quiet, window=window).at  # placed, as a send is
    until = allowed_until(start, zone, quiet, window=window)
    if until is None:  # nothing rules out any hour
        assert quiet is None or (quiet.start == quiet.end and not quiet.weekends)
        assert window is None
        return
    assert until > start
    assert not _allowed(until, zone, quiet, window), (start, until)
    assert _allowed(until - timedelta(microseconds=1), zone, quiet, window), (start, until)


@settings(max_examples=80, deadline=None)
@given(cases, quiet_hours, maybe_windows)
def test_every_instant_before_the_end_is_allowed(
    case: tuple[str, datetime], quiet: QuietHours | None, window: SendWindow | None
) -> None:
    assume(_open(quiet, window))
    zone, start = case
    start = next_allowed_time(start, zone, quiet, window=window).at
    until = allowed_until(start, zone, quiet, window=window)
    assume(until is not None)
    assert until is not None
    probe = start
    while probe < until:  # every 5 minutes from the start to the end: all allowed
        assert _allowed(probe, zone, quiet, window), (probe, until)
        probe += timedelta(minutes=5)


@FAST
@given(cases, quiet_hours, maybe_windows)
def test_an_instant_ruled_out_ends_at_once(
    case: tuple[str, datetime], quiet: QuietHours | None, window: SendWindow | None
) -> None:
    assume(_open(quiet, window))
    zone, start = case
    assume(not _allowed(start, zone, quiet, window))
    assert allowed_until(start, zone, quiet, window=window) == start


def test_a_weekday_afternoon_ends_at_the_evening_quiet_hours() -> None:
    start = datetime(2026, 3, 4, 15, tzinfo=ZoneInfo(NEW_YORK))  # a Wednesday
    assert allowed_until(start, NEW_YORK, NIGHT) == datetime(
        2026, 3, 4, 20, tzinfo=ZoneInfo(NEW_YORK)
    )


def test_a_window_ends_before_the_quiet_hours() -> None:
    start = datetime(2026, 3, 4, 16, 30, tzinfo=ZoneInfo(NEW_YORK))
    window = SendWindow(start=time(16), end=time(19))
    end = allowed_until(start, NEW_YORK, NIGHT, window=window)
    assert end == datetime(2026, 3, 4, 19, tzinfo=ZoneInfo(NEW_YORK))


def test_without_quiet_hours_a_weekend_starts_on_saturday_midnight() -> None:
    start = datetime(2026, 3, 6, 23, tzinfo=ZoneInfo(NEW_YORK))  # a Friday
    weekends_only = QuietHours(start=time(0), end=time(0), weekends=True)
    end = allowed_until(start, NEW_YORK, weekends_only)
    assert end == datetime(2026, 3, 7, 0, tzinfo=ZoneInfo(NEW_YORK))


def test_nothing_to_rule_out_has_no_end() -> None:
    start = datetime(2026, 3, 4, 23, tzinfo=ZoneInfo(NEW_YORK))
    assert allowed_until(start, NEW_YORK, None) is None
