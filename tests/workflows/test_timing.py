"""next_allowed_time: properties over zones, instants and quiet hours, then worked examples."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from contracts import QuietHours
from contracts.windows import SendWindow, open_minutes
from workflows.timing import Placement, is_valid_timezone, next_allowed_time

ZONES = [
    "America/New_York",
    "Europe/London",
    "Australia/Sydney",
    "Asia/Kolkata",
    "America/Sao_Paulo",
    "Pacific/Auckland",
    "UTC",
]
NEW_YORK = "America/New_York"
NIGHT = QuietHours(start=time(20), end=time(8), weekends=True)
FAST = settings(max_examples=200, deadline=None)


def _transition_days() -> list[tuple[str, date]]:
    """Local dates on which each zone's UTC offset changes, 2020-2035, to aim examples at DST."""
    days = []
    for name in ZONES:
        zone = ZoneInfo(name)
        day = date(2020, 1, 1)
        before = datetime.combine(day, time(12), zone).utcoffset()
        while day < date(2036, 1, 1):
            day += timedelta(days=1)
            offset = datetime.combine(day, time(12), zone).utcoffset()
            if offset != before:
                days.append((name, day))
            before = offset
    return days


TRANSITIONS = _transition_days()

clocks = st.builds(
    time,
    hour=st.integers(0, 23),
    minute=st.one_of(st.sampled_from([0, 30]), st.integers(0, 59)),
)
quiet_hours = st.one_of(
    st.none(),
    st.builds(QuietHours, start=clocks, end=clocks, weekends=st.booleans()),
)
anywhere = st.tuples(
    st.sampled_from(ZONES),
    st.datetimes(datetime(2020, 1, 1), datetime(2035, 12, 31), timezones=st.just(UTC)),
)


@st.composite
def near_transition(draw: st.DrawFn) -> tuple[str, datetime]:
    name, day = draw(st.sampled_from(TRANSITIONS))
    start = datetime.combine(day - timedelta(days=1), time(0), ZoneInfo(name)).astimezone(UTC)
    return name, start + timedelta(seconds=draw(st.integers(0, 3 * 86400)))


cases = st.one_of(anywhere, near_transition())


def _quiet(clock: time, quiet: QuietHours) -> bool:
    start, end = quiet.start, quiet.end
    if start == end:
        return False
    if start < end:
        return start <= clock < end
    return clock >= start or clock < end


def _allowed(instant: datetime, zone: str, quiet: QuietHours | None) -> bool:
    local = instant.astimezone(ZoneInfo(zone))
    if quiet is None:
        return True
    if quiet.weekends and local.weekday() >= 5:
        return False
    return not _quiet(local.time(), quiet)


def _exists(day: date, clock: time, zone: str) -> bool:
    wall = datetime.combine(day, clock)
    return any(
        wall.replace(tzinfo=ZoneInfo(zone), fold=fold)
        .astimezone(UTC)
        .astimezone(ZoneInfo(zone))
        .replace(tzinfo=None)
        == wall
        for fold in (0, 1)
    )


def _local(zone: str, year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=ZoneInfo(zone))


# --- properties --------------------------------------------------------------------------


@FAST
@given(cases, quiet_hours, st.booleans(), st.one_of(st.none(), clocks))
def test_never_earlier_than_due_and_always_utc(
    case: tuple[str, datetime], quiet: QuietHours | None, urgent: bool, at: time | None
) -> None:
    zone, due = case
    placed = next_allowed_time(due, zone, quiet, urgent=urgent, at=at)
    assert placed.at >= due
    assert placed.at.tzinfo is UTC
    assert placed.local.astimezone(UTC) == placed.at
    assert placed.local.tzinfo == ZoneInfo(zone)
    assert placed.moved == (placed.at != due)
    assert (placed.reason is None) == (not placed.moved)


@FAST
@given(cases, quiet_hours, st.one_of(st.none(), clocks))
def test_never_in_quiet_hours_or_on_a_weekend_unless_urgent(
    case: tuple[str, datetime], quiet: QuietHours | None, at: time | None
) -> None:
    zone, due = case
    placed = next_allowed_time(due, zone, quiet, at=at)
    assert _allowed(placed.at, zone, quiet), placed


@FAST
@given(cases, quiet_hours, st.booleans())
def test_placing_the_result_again_changes_nothing(
    case: tuple[str, datetime], quiet: QuietHours | None, urgent: bool
) -> None:
    zone, due = case
    first = next_allowed_time(due, zone, quiet, urgent=urgent)
    again = next_allowed_time(first.at, zone, quiet, urgent=urgent)
    assert again == Placement(at=first.at, local=first.local, reason=None, moved=False)


@FAST
@given(cases, st.one_of(st.none(), quiet_hours), clocks)
def test_placing_an_at_result_again_changes_nothing(
    case: tuple[str, datetime], quiet: QuietHours | None, at: time
) -> None:
    # Only when nothing but `at` moved it: a step pushed to the quiet end is no longer at `at`,
    # so re-placing it with the same `at` rightly moves it again.
    zone, due = case
    first = next_allowed_time(due, zone, quiet, urgent=True, at=at)
    again = next_allowed_time(first.at, zone, quiet, urgent=True, at=at)
    assert again.at == first.at
    assert not again.moved


@FAST
@given(cases, quiet_hours)
def test_urgent_keeps_due(case: tuple[str, datetime], quiet: QuietHours | None) -> None:
    zone, due = case
    placed = next_allowed_time(due, zone, quiet, urgent=True)
    assert placed.at == due
    assert not placed.moved
    assert placed.reason is None


@FAST
@given(cases, quiet_hours)
def test_an_allowed_due_is_not_moved(case: tuple[str, datetime], quiet: QuietHours | None) -> None:
    zone, due = case
    placed = next_allowed_time(due, zone, quiet)
    assert placed.moved == (not _allowed(due, zone, quiet))


@FAST
@given(cases, clocks, st.booleans())
def test_at_lands_on_that_wall_time_or_just_after_a_gap(
    case: tuple[str, datetime], at: time, urgent: bool
) -> None:
    zone, due = case
    placed = next_allowed_time(due, zone, None if not urgent else NIGHT, urgent=urgent, at=at)
    local = placed.local
    assert placed.at - due < timedelta(hours=26)  # the next such time, not a later day's
    if local.time() == at:
        return
    # `at` did not exist that day: the step runs at the first instant after the gap.
    assert not _exists(local.date(), at, zone)
    wall = datetime.combine(local.date(), at)
    before = (placed.at - timedelta(microseconds=1)).astimezone(ZoneInfo(zone))
    assert before.replace(tzinfo=None) < wall < local.replace(tzinfo=None)


@FAST
@given(cases, st.builds(QuietHours, start=clocks, end=clocks, weekends=st.just(False)), clocks)
def test_quiet_hours_win_over_at(case: tuple[str, datetime], quiet: QuietHours, at: time) -> None:
    zone, due = case
    placed = next_allowed_time(due, zone, quiet, at=at)
    if _quiet(at, quiet):
        assert not _quiet(placed.local.time(), quiet)
        assert placed.reason is not None
        # Quiet hours moved it, unless the clock skipped `at` that day and the gap alone
        # carried it past them (02:00 in a 00:00-02:30 quiet spell on a spring-forward day).
        if _exists(placed.local.date(), at, zone):
            assert "quiet hours" in placed.reason
        else:
            assert f"at {at:%H:%M} local" in placed.reason


# --- examples ----------------------------------------------------------------------------


def test_friday_night_in_new_york_waits_for_monday_morning() -> None:
    placed = next_allowed_time(_local(NEW_YORK, 2026, 1, 9, 21), NEW_YORK, NIGHT)
    assert placed.local == _local(NEW_YORK, 2026, 1, 12, 8)
    assert placed.at == datetime(2026, 1, 12, 13, tzinfo=UTC)
    assert placed.reason == "quiet hours (20:00–08:00 local); weekend"
    assert placed.moved


def test_saturday_afternoon_is_a_weekend() -> None:
    placed = next_allowed_time(_local(NEW_YORK, 2026, 1, 10, 15), NEW_YORK, NIGHT)
    assert placed.local == _local(NEW_YORK, 2026, 1, 12, 8)
    assert placed.reason == "weekend"


def test_weekend_without_quiet_hours_waits_for_monday_midnight() -> None:
    quiet = QuietHours(start=time(9), end=time(9), weekends=True)
    placed = next_allowed_time(_local(NEW_YORK, 2026, 1, 10, 15), NEW_YORK, quiet)
    assert placed.local == _local(NEW_YORK, 2026, 1, 12, 0)


def test_no_quiet_hours_means_weekends_are_fine() -> None:
    due = _local(NEW_YORK, 2026, 1, 10, 23)
    assert not next_allowed_time(due, NEW_YORK, None).moved


def test_quiet_hours_that_do_not_wrap_midnight() -> None:
    lunch = QuietHours(start=time(12), end=time(13), weekends=False)
    placed = next_allowed_time(_local("Asia/Kolkata", 2026, 1, 6, 12, 30), "Asia/Kolkata", lunch)
    assert placed.local == _local("Asia/Kolkata", 2026, 1, 6, 13)
    assert placed.at == datetime(2026, 1, 6, 7, 30, tzinfo=UTC)
    assert not next_allowed_time(placed.at - timedelta(hours=2), "Asia/Kolkata", lunch).moved


def test_urgent_ignores_quiet_hours_and_weekends() -> None:
    due = _local(NEW_YORK, 2026, 1, 10, 23)
    placed = next_allowed_time(due, NEW_YORK, NIGHT, urgent=True)
    assert (placed.at, placed.moved, placed.reason) == (due, False, None)


def test_at_later_today_and_tomorrow() -> None:
    due = _local(NEW_YORK, 2026, 1, 6, 9)
    today = next_allowed_time(due, NEW_YORK, NIGHT, at=time(9, 30))
    assert today.local == _local(NEW_YORK, 2026, 1, 6, 9, 30)
    assert today.reason == "at 09:30 local"
    tomorrow = next_allowed_time(due, NEW_YORK, NIGHT, at=time(8, 30))
    assert tomorrow.local == _local(NEW_YORK, 2026, 1, 7, 8, 30)
    exactly = next_allowed_time(due, NEW_YORK, NIGHT, at=time(9))
    assert (exactly.at, exactly.moved, exactly.reason) == (due, False, None)


def test_at_inside_quiet_hours_moves_to_the_quiet_end() -> None:
    placed = next_allowed_time(_local(NEW_YORK, 2026, 1, 6, 9), NEW_YORK, NIGHT, at=time(21))
    assert placed.local == _local(NEW_YORK, 2026, 1, 7, 8)
    assert placed.reason == "at 21:00 local; quiet hours (20:00–08:00 local)"


def test_at_in_the_spring_forward_gap_runs_when_the_gap_ends() -> None:
    # 2026-03-08 02:00 EST jumps to 03:00 EDT: 02:30 never happens in New York that day.
    due = _local(NEW_YORK, 2026, 3, 8, 0, 15)
    placed = next_allowed_time(due, NEW_YORK, None, at=time(2, 30))
    assert placed.at == datetime(2026, 3, 8, 7, tzinfo=UTC)
    assert placed.local.replace(tzinfo=None) == datetime(2026, 3, 8, 3)
    assert next_allowed_time(placed.at, NEW_YORK, None, at=time(2, 30)).moved is False
    next_day = next_allowed_time(_local(NEW_YORK, 2026, 3, 8, 4), NEW_YORK, None, at=time(2, 30))
    assert next_day.at == datetime(2026, 3, 9, 6, 30, tzinfo=UTC)  # 02:30 EDT, 22h30 later


def test_due_in_the_gap_is_already_a_real_instant() -> None:
    # A wall time in the gap given as `due` still names one instant (PEP 495, fold=0: EST).
    due = _local(NEW_YORK, 2026, 3, 8, 2, 30)
    placed = next_allowed_time(due, NEW_YORK, None)
    assert placed.at == due.astimezone(UTC)  # compare in UTC: PEP 495 gap times never equal
    assert not placed.moved
    assert placed.local.replace(tzinfo=None) == datetime(2026, 3, 8, 3, 30)


def test_at_in_the_fall_back_fold_uses_the_first_occurrence() -> None:
    # 2026-11-01 02:00 EDT falls back to 01:00 EST: 01:30 happens twice.
    due = _local(NEW_YORK, 2026, 11, 1, 0, 10)
    placed = next_allowed_time(due, NEW_YORK, None, at=time(1, 30))
    assert placed.at == datetime(2026, 11, 1, 5, 30, tzinfo=UTC)  # 01:30 EDT
    assert placed.local.fold == 0
    # Once the first 01:30 has passed, the second one is the next 01:30 on the wall.
    later = next_allowed_time(placed.at + timedelta(minutes=1), NEW_YORK, None, at=time(1, 30))
    assert later.at == datetime(2026, 11, 1, 6, 30, tzinfo=UTC)  # 01:30 EST
    assert later.local.fold == 1


def test_quiet_end_in_the_fold_is_its_first_occurrence() -> None:
    quiet = QuietHours(start=time(23), end=time(1, 30), weekends=False)
    placed = next_allowed_time(_local(NEW_YORK, 2026, 10, 31, 23, 30), NEW_YORK, quiet)
    assert placed.at == datetime(2026, 11, 1, 5, 30, tzinfo=UTC)
    # Back in the repeated hour the wall clock reads 01:10 again, which is quiet once more.
    repeat = next_allowed_time(datetime(2026, 11, 1, 6, 10, tzinfo=UTC), NEW_YORK, quiet)
    assert repeat.at == datetime(2026, 11, 1, 6, 30, tzinfo=UTC)


def test_sydney_spring_forward_quiet_end_in_the_gap() -> None:
    # 2026-10-04 02:00 AEST jumps to 03:00 AEDT in Sydney.
    sydney = "Australia/Sydney"
    quiet = QuietHours(start=time(22), end=time(2, 30), weekends=False)
    placed = next_allowed_time(_local(sydney, 2026, 10, 3, 23), sydney, quiet)
    assert placed.at == datetime(2026, 10, 3, 16, tzinfo=UTC)
    assert placed.local.replace(tzinfo=None) == datetime(2026, 10, 4, 3)


def test_sydney_days_are_counted_on_the_wall_clock() -> None:
    # Saturday 10:00 AEST to Sunday 09:00 AEDT is 22 hours, not 23: the day is 23h long.
    sydney = "Australia/Sydney"
    due = _local(sydney, 2026, 10, 3, 10)
    placed = next_allowed_time(due, sydney, None, at=time(9))
    assert placed.local.replace(tzinfo=None) == datetime(2026, 10, 4, 9)
    assert placed.at - due == timedelta(hours=22)
    # And on the fall-back weekend (2026-04-05 03:00 AEDT → 02:00 AEST) the day is 25h long.
    autumn = next_allowed_time(_local(sydney, 2026, 4, 4, 10), sydney, None, at=time(9))
    assert autumn.local.replace(tzinfo=None) == datetime(2026, 4, 5, 9)
    assert autumn.at - _local(sydney, 2026, 4, 4, 10) == timedelta(hours=24)


def test_naive_due_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        next_allowed_time(datetime(2026, 1, 6, 9), NEW_YORK, NIGHT)


def test_unknown_zone_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="Mars/Olympus_Mons"):
        next_allowed_time(datetime(2026, 1, 6, 9, tzinfo=UTC), "Mars/Olympus_Mons", NIGHT)


@pytest.mark.parametrize("name", ZONES)
def test_known_zones_are_valid(name: str) -> None:
    assert is_valid_timezone(name)


@pytest.mark.parametrize("name", ["", "Mars/Olympus_Mons", "America", "../etc/passwd", "/UTC"])
def test_unknown_zones_are_invalid(name: str) -> None:
    assert not is_valid_timezone(name)


# --- send windows ------------------------------------------------------------------------

windows = (
    st.tuples(clocks, clocks)
    .filter(lambda pair: pair[0] != pair[1])
    .map(lambda pair: SendWindow(start=pair[0], end=pair[1]))
)


def _open(window: SendWindow, quiet: QuietHours | None) -> bool:
    return quiet is None or open_minutes(window, quiet.start, quiet.end) > 0


def _allowed_in(instant: datetime, zone: str, quiet: QuietHours | None, window: SendWindow) -> bool:
    local = instant.astimezone(ZoneInfo(zone))
    return _allowed(instant, zone, quiet) and window.contains(local.time())


@FAST
@given(cases, quiet_hours, windows)
def test_a_window_result_is_inside_the_window_and_allowed(
    case: tuple[str, datetime], quiet: QuietHours | None, window: SendWindow
) -> None:
    assume(_open(window, quiet))
    zone, due = case
    placed = next_allowed_time(due, zone, quiet, window=window)
    assert placed.at >= due
    assert _allowed_in(placed.at, zone, quiet, window), placed
    assert placed.moved == (not _allowed_in(due, zone, quiet, window))
    assert (placed.reason is None) == (not placed.moved)
    if placed.moved:
        # It lands on an opening: a moment earlier was not allowed.
        assert not _allowed_in(placed.at - timedelta(microseconds=1), zone, quiet, window)


@settings(max_examples=80, deadline=None)
@given(cases, quiet_hours, windows)
def test_a_window_result_is_the_first_allowed_time(
    case: tuple[str, datetime], quiet: QuietHours | None, window: SendWindow
) -> None:
    assume(_open(window, quiet))
    zone, due = case
    placed = next_allowed_time(due, zone, quiet, window=window)
    probe = due
    while probe < placed.at:  # every 5 minutes between due and the result: none allowed
        assert not _allowed_in(probe, zone, quiet, window), (probe, placed)
        probe += timedelta(minutes=5)


@FAST
@given(cases, quiet_hours, windows)
def test_placing_a_window_result_again_changes_nothing(
    case: tuple[str, datetime], quiet: QuietHours | None, window: SendWindow
) -> None:
    assume(_open(window, quiet))
    zone, due = case
    first = next_allowed_time(due, zone, quiet, window=window)
    again = next_allowed_time(first.at, zone, quiet, window=window)
    assert (again.at, again.moved, again.reason) == (first.at, False, None)


@FAST
@given(cases, quiet_hours, windows)
def test_urgent_ignores_windows_too(
    case: tuple[str, datetime], quiet: QuietHours | None, window: SendWindow
) -> None:
    zone, due = case
    assert next_allowed_time(due, zone, quiet, urgent=True, window=window).at == due


EMAIL_MORNING = SendWindow(start=time(8), end=time(11))
SMS_EVENING = SendWindow(start=time(16), end=time(19))


def test_sms_window_on_a_friday_evening_waits_for_monday_afternoon() -> None:
    placed = next_allowed_time(_local(NEW_YORK, 2026, 1, 9, 19, 30), NEW_YORK, NIGHT,
                               window=SMS_EVENING)  # fmt: skip
    assert placed.local == _local(NEW_YORK, 2026, 1, 12, 16)
    assert placed.reason == (
        "send window (16:00–19:00 local); weekend; quiet hours (20:00–08:00 local)"
    )


def test_inside_the_window_nothing_moves() -> None:
    due = _local(NEW_YORK, 2026, 1, 6, 17, 15)
    placed = next_allowed_time(due, NEW_YORK, NIGHT, window=SMS_EVENING)
    assert (placed.at, placed.moved) == (due.astimezone(UTC), False)


def test_an_email_after_the_morning_window_goes_the_next_morning() -> None:
    placed = next_allowed_time(_local(NEW_YORK, 2026, 1, 6, 11), NEW_YORK, NIGHT,
                               window=EMAIL_MORNING)  # fmt: skip
    assert placed.local == _local(NEW_YORK, 2026, 1, 7, 8)
    assert placed.reason == "send window (08:00–11:00 local)"


def test_a_window_that_starts_inside_quiet_hours_opens_at_the_quiet_end() -> None:
    early = SendWindow(start=time(7), end=time(9))
    placed = next_allowed_time(_local(NEW_YORK, 2026, 1, 6, 12), NEW_YORK, NIGHT, window=early)
    assert placed.local == _local(NEW_YORK, 2026, 1, 7, 8)


def test_a_window_entirely_in_quiet_hours_is_refused() -> None:
    late = SendWindow(start=time(21), end=time(22))
    with pytest.raises(ValueError, match="entirely in quiet hours"):
        next_allowed_time(_local(NEW_YORK, 2026, 1, 6, 12), NEW_YORK, NIGHT, window=late)


def test_a_window_across_the_spring_forward_gap() -> None:
    # 2026-03-08 02:00-03:00 does not exist in New York: a 02:15 start opens at 03:00.
    night_owls = SendWindow(start=time(2, 15), end=time(4))
    placed = next_allowed_time(_local(NEW_YORK, 2026, 3, 8, 1), NEW_YORK, None, window=night_owls)
    assert placed.local.replace(tzinfo=None) == datetime(2026, 3, 8, 3, 0)


# --- edges found by mutation testing ------------------------------------------------------


def test_a_quiet_end_in_the_gap_that_is_still_quiet_goes_to_the_next_day() -> None:
    # Quiet 02:50–02:30 leaves 02:30–02:50 open; on spring-forward day 02:00–03:00 does not
    # exist, so that day has no allowed minute: the next one is Monday's 02:30.
    quiet = QuietHours(start=time(2, 50), end=time(2, 30), weekends=False)
    placed = next_allowed_time(_local(NEW_YORK, 2026, 3, 8, 1), NEW_YORK, quiet)
    assert placed.local == _local(NEW_YORK, 2026, 3, 9, 2, 30)


def test_a_window_start_in_the_gap_past_the_window_goes_to_the_next_day() -> None:
    window = SendWindow(start=time(2, 30), end=time(2, 40))
    placed = next_allowed_time(_local(NEW_YORK, 2026, 3, 8, 1), NEW_YORK, None, window=window)
    assert placed.local == _local(NEW_YORK, 2026, 3, 9, 2, 30)


def test_without_quiet_hours_a_window_over_midnight_keeps_a_due_inside_it() -> None:
    window = SendWindow(start=time(23), end=time(2))
    due = _local(NEW_YORK, 2026, 3, 11, 0, 30)
    placed = next_allowed_time(due, NEW_YORK, None, window=window)
    assert placed.local == due and not placed.moved and placed.reason is None


def test_reasons_show_seconds_only_when_a_time_has_them() -> None:
    quiet = QuietHours(start=time(20), end=time(8, 0, 30), weekends=False)
    placed = next_allowed_time(_local(NEW_YORK, 2026, 3, 11, 21), NEW_YORK, quiet)
    assert placed.reason == "quiet hours (20:00–08:00:30 local)"
    at = next_allowed_time(_local(NEW_YORK, 2026, 3, 11, 9), NEW_YORK, None, at=time(10, 0, 0, 5))
    assert at.reason == "at 10:00:00.000005 local"
    window = SendWindow(start=time(16, 0, 15), end=time(19))
    assert window.describe() == "16:00:15–19:00"
    assert SendWindow(start=time(16, 0, 0, 1), end=time(19)).describe() == "16:00:00.000001–19:00"


def test_every_time_in_the_spring_forward_gap_lands_on_the_instant_the_gap_ends() -> None:
    due = _local(NEW_YORK, 2026, 3, 8, 0, 15)
    for minute in range(60):
        for second in (0, 17, 59):
            placed = next_allowed_time(due, NEW_YORK, None, at=time(2, minute, second))
            assert placed.at == datetime(2026, 3, 8, 7, tzinfo=UTC), (minute, second)
