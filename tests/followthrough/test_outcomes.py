"""Recording outcomes: bad rows named by line, nothing accepted lost, nothing counted twice."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from followthrough.outcomes import OutcomeError, import_outcomes, parse_at, record_outcome
from store import Store
from store.starts import NewStart

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


async def test_an_import_keeps_the_good_rows_and_names_the_bad_ones(store: Store, tmp_path: Path):
    # F2 got a sequence on 2026-10-10 (a 30-day window); F1 has no decision.
    await store.starts.add(NewStart("F2", "outreach", 1, "wf", "event", NOW - timedelta(days=48)))
    path = tmp_path / "outcomes.csv"
    path.write_text(
        "family_id,outcome,at\n"
        "F1,withdrew,2026-10-14\n"
        "NOPE,withdrew,2026-10-14\n"
        "F2,Withdrew!,2026-10-14\n"
        "F2,retained,14/10/2026\n"
        "F3,retained,2027-01-01\n"
        "F2,retained,2026-10-14T09:30:00+02:00\n"
        "F1,withdrew,2026-10-14\n",
        encoding="utf-8",
    )
    report = await import_outcomes(store, path, now=NOW)
    assert report.problems == [
        "line 3: family_id: no family with id 'NOPE'",
        "line 4: outcome: 'Withdrew!' must be a lower-case name (letters, digits, '_'), "
        "e.g. withdrew",
        "line 5: at: '14/10/2026' is not an ISO date or time, e.g. 2026-10-14 or 2026-10-14T09:30",
        "line 6: at: '2027-01-01' is in the future",
    ]
    # Line 8 repeats line 2: accepted, but counted once.
    assert report.summary() == (
        "3 outcomes accepted (2 new, 1 recorded before; 1 inside a start's or holdout's "
        "window), 4 rows rejected"
    )
    assert await store.outcomes.of_families(["F1", "F2"]) == {
        "F1": [("withdrew", datetime(2026, 10, 14, tzinfo=UTC))],
        "F2": [("retained", datetime(2026, 10, 14, 7, 30, tzinfo=UTC))],
    }
    again = await import_outcomes(store, path, now=NOW)
    assert again.added == 0 and len(again.problems) == 4


async def test_a_file_without_its_columns_is_one_line(store: Store, tmp_path: Path):
    path = tmp_path / "bad.csv"
    path.write_text("family,what\nF1,withdrew\n", encoding="utf-8")
    report = await import_outcomes(store, path)
    assert report.problems == ["line 1: missing column(s) family_id, outcome, at"]
    assert report.summary().startswith("0 outcomes accepted (0 new, 0 recorded before;")


async def test_a_recorded_outcome_says_which_decision_it_counts_for(store: Store):
    prediction = await store.predictions.add("F1", 0.9, 90, window_days=14)
    decided = datetime.now(UTC) - timedelta(days=10)
    await store.starts.add(
        NewStart("F1", "outreach", 3, "wf", "prediction", decided, True, prediction.id)
    )
    inside = (decided + timedelta(days=2)).isoformat()
    line = await record_outcome(store, "F1", "withdrew", inside)
    assert line.endswith(
        f"recorded; counts for outreach v3 (held out of {decided:%Y-%m-%d}, "
        f"prediction {prediction.id})"
    )
    assert "already recorded" in await record_outcome(store, "F1", "withdrew", inside)
    outside = (decided - timedelta(days=1)).isoformat()
    assert "no start or holdout decision's window holds it" in await record_outcome(
        store, "F1", "retained", outside
    )
    with pytest.raises(OutcomeError, match="family: no family with id 'NOPE'"):
        await record_outcome(store, "NOPE", "withdrew")


def test_times_without_an_offset_are_utc() -> None:
    assert parse_at("2026-10-14T09:30", now=NOW) == datetime(2026, 10, 14, 9, 30, tzinfo=UTC)
    assert parse_at("2026-10-14", now=NOW) == datetime(2026, 10, 14, tzinfo=UTC)
