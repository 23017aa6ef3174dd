"""Frequency cap windows: the family's local day or week, as UTC instants."""

from __future__ import annotations

from datetime import UTC, datetime

from activities.consent import cap_window
from contracts.caps import FrequencyCap


def test_a_daily_cap_counts_the_local_calendar_day() -> None:
    now = datetime(2026, 3, 4, 3, 30, tzinfo=UTC)  # 22:30 the day before in New York
    start, end = cap_window(now, "America/New_York", FrequencyCap(limit=1, per="day"))
    assert (start, end) == (
        datetime(2026, 3, 3, 5, 0, tzinfo=UTC),
        datetime(2026, 3, 4, 5, 0, tzinfo=UTC),
    )


def test_a_weekly_cap_runs_monday_to_monday() -> None:
    now = datetime(2026, 3, 5, 12, 0, tzinfo=UTC)  # a Thursday
    start, end = cap_window(now, "UTC", FrequencyCap(limit=3, per="week"))
    assert (start.weekday(), end.weekday()) == (0, 0)
    assert start == datetime(2026, 3, 2, tzinfo=UTC) and end == datetime(2026, 3, 9, tzinfo=UTC)


def test_a_day_across_a_clock_change_is_still_one_local_day() -> None:
    now = datetime(2026, 3, 8, 12, 0, tzinfo=UTC)  # New York springs forward that night
    start, end = cap_window(now, "America/New_York", FrequencyCap(limit=1, per="day"))
    assert end - start == (
        datetime(2026, 3, 9, 4, tzinfo=UTC) - datetime(2026, 3, 8, 5, tzinfo=UTC)
    )


def test_the_window_is_given_in_utc() -> None:
    # The outbox is counted between these instants: they are UTC whatever the server's zone.
    now = datetime(2026, 3, 4, 3, 30, tzinfo=UTC)
    for per in ("day", "week"):
        start, end = cap_window(now, "Asia/Tokyo", FrequencyCap(limit=1, per=per))
        assert start.tzinfo is UTC and end.tzinfo is UTC
