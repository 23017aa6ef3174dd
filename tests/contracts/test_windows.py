"""Send windows: local hours that may wrap midnight, and what quiet hours leave of them."""

from __future__ import annotations

from datetime import time

import pytest
from pydantic import ValidationError

from contracts.caps import FrequencyCap
from contracts.windows import SendWindow, open_minutes

AFTER_SCHOOL = SendWindow(start=time(16, 0), end=time(19, 0))
OVERNIGHT = SendWindow(start=time(22, 0), end=time(2, 0))


def test_a_window_contains_its_start_not_its_end() -> None:
    assert AFTER_SCHOOL.contains(time(16, 0)) and AFTER_SCHOOL.contains(time(18, 59))
    assert not AFTER_SCHOOL.contains(time(19, 0)) and not AFTER_SCHOOL.contains(time(9, 0))


def test_a_window_may_wrap_midnight() -> None:
    assert OVERNIGHT.contains(time(23, 30)) and OVERNIGHT.contains(time(1, 0))
    assert not OVERNIGHT.contains(time(2, 0)) and not OVERNIGHT.contains(time(12, 0))


def test_a_window_of_no_hours_is_refused() -> None:
    with pytest.raises(ValidationError, match="must differ"):
        SendWindow(start=time(9, 0), end=time(9, 0))


def test_what_quiet_hours_leave_open() -> None:
    assert open_minutes(AFTER_SCHOOL, None, None) == 180
    assert open_minutes(AFTER_SCHOOL, time(18, 0), time(8, 0)) == 120
    assert open_minutes(OVERNIGHT, time(20, 0), time(8, 0)) == 0


def test_descriptions_read_as_people_write_them() -> None:
    assert AFTER_SCHOOL.describe() == "16:00–19:00"
    assert FrequencyCap(limit=3, per="week").describe() == "3 a week"


def test_quiet_hours_of_no_length_take_nothing_from_a_window() -> None:
    assert open_minutes(AFTER_SCHOOL, time(8, 0), time(8, 0)) == 180


def test_a_window_over_midnight_counts_its_early_morning_minutes() -> None:
    # Quiet 21:00–23:59 takes the window's evening but its last minute; 00:00–02:00 stay open.
    window = SendWindow(start=time(23, 30), end=time(2, 0))
    assert open_minutes(window, time(21, 0), time(23, 59)) == 1 + 120
    assert open_minutes(OVERNIGHT, None, None) == 240


def test_quiet_hours_take_minutes_out_only_when_they_have_a_start_and_an_end() -> None:
    assert open_minutes(AFTER_SCHOOL, time(18, 0), None) == 180
    assert open_minutes(AFTER_SCHOOL, None, time(8, 0)) == 180
