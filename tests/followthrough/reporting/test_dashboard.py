"""The dashboard's numbers from store rows whose answers are known."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from contracts import StepRef, StepTiming
from followthrough.reporting.dashboard import version_reports, week_of
from followthrough.reporting.stats import Slo
from store import Store
from store.audit import step_for
from store.starts import NewStart

MONDAY = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)  # 09:00 in New York


def ref(run: str, step: str, timing: StepTiming | None = None, version: int = 1) -> StepRef:
    return StepRef(
        workflow_id=f"intervention-t-{run}",
        run_id=f"run-{run}",
        step_id=step,
        template="t",
        template_version=version,
        timing=timing,
    )


async def write(store: Store) -> None:
    """Three sequences of t v1 and one of v2: a answers its email after 2 h; b does not and
    gets an SMS; c never reached a step. Families F1 (UTC), F2 (New York)."""
    starts = [
        NewStart(family, "t", version, f"intervention-t-{run}", "test", MONDAY)
        for run, family, version in (("a", "F2", 1), ("b", "F1", 1), ("c", "F3", 1), ("d", "F1", 2))
    ]
    await store.starts.add_many(starts)
    late = StepTiming(
        due_at=MONDAY + timedelta(hours=1),
        started_at=MONDAY + timedelta(hours=1, seconds=30),
        due_reason="quiet hours until 08:00",
    )
    rows = [
        ("a", "F2", "first_email", "email", "sent", MONDAY, None),
        ("a", "F2", "answered", "condition", "True", MONDAY + timedelta(hours=2), None),
        ("b", "F1", "first_email", "email", "sent", MONDAY, None),
        ("b", "F1", "answered", "condition", "False", MONDAY + timedelta(hours=3), None),
        ("b", "F1", "first_sms", "sms", "sent", MONDAY + timedelta(hours=4), late),
        ("d", "F1", "first_email", "email", "sent", MONDAY, None),
    ]
    for run, family, step, kind, outcome, at, timing in rows:
        row = step_for(ref(run, step, timing, 2 if run == "d" else 1), family_id=family,
                       kind=kind, outcome=outcome, attempts=1,
                       channel=kind if kind in ("email", "sms") else None)  # fmt: skip
        row.created_at = at
        await store.steps.add(row)


async def test_funnel_rates_and_slo_from_the_store(store):
    await write(store)
    reports = {r.key: r for r in await version_reports(store)}
    assert set(reports) == {("t", 1), ("t", 2)}
    v1 = reports["t", 1]
    assert v1.started == 3
    assert [(s.step_id, s.reached, s.replied) for s in v1.steps] == [
        ("first_email", 2, 0),
        ("answered", 2, 1),
        ("first_sms", 1, 0),
    ]
    email, sms = v1.by_channel["email"], v1.by_channel["sms"]
    assert (email.sent, email.answered, email.share) == (2, 1, 0.5)
    assert (sms.sent, sms.answered) == (1, 0)
    # a's email went out at 09:00 New York time, b's at 14:00 UTC; b's SMS at 18:00 UTC.
    assert {h: (r.sent, r.answered) for h, r in v1.by_hour.items()} == {
        9: (1, 1),
        14: (1, 0),
        18: (1, 0),
    }
    assert v1.first_response_s == [7200.0]
    assert v1.response_buckets()[1] == ("1-6 h", 1)
    assert v1.lateness_s == [30.0]
    assert (v1.first_contact_ok, v1.first_contact_total) == (2, 2)
    assert v1.slo(Slo())["rating"] == "green"
    week = v1.weeks[week_of(MONDAY)]
    assert (week.started, week.sent, week.answered) == (3, 3, 1)
    assert reports["t", 2].started == 1 and reports["t", 2].steps[0].reached == 1


async def test_rows_before_timing_was_kept_have_none(store):
    await store.starts.add(NewStart("F1", "t", 1, "intervention-t-x", "test", MONDAY))
    await store.steps.add(step_for(ref("x", "first_email"), family_id="F1", kind="email",
                                   outcome="sent", attempts=1))  # fmt: skip
    await store.steps.add(step_for(ref("x", "first_sms", StepTiming()), family_id="F1",
                                   kind="sms", outcome="sent", attempts=1))  # fmt: skip
    old, new = await store.steps.for_workflow("intervention-t-x")
    assert (old.due_at, old.started_at, old.due_reason) == (None, None, None)
    assert (new.due_at, new.due_reason) == (None, "")


async def test_local_hours_follow_each_zones_offset_on_the_day(store):
    """Hours in a half-hour zone and on both sides of a daylight-saving change; a failed
    message counts nowhere; a start on Saturday has until Monday's same time (1 business
    day), one second later is late."""
    saturday = datetime(2026, 10, 31, 10, 0, tzinfo=UTC)  # New York changes on Sunday 1 Nov
    await store.families.upsert("K1", "K", timezone="Asia/Kolkata")
    await store.families.upsert("N1", "N", timezone="America/New_York")
    await store.starts.add_many(
        [NewStart(f, "t", 1, f"intervention-t-{run}", "test", saturday)
         for run, f in (("k", "K1"), ("n", "N1"), ("m", "N1"))]
    )  # fmt: skip
    monday = saturday + timedelta(days=2)
    rows = [
        ("k", "K1", "first_email", "email", "sent", monday),  # 15:30 in Kolkata: on time
        ("n", "N1", "first_email", "email", "sent", saturday),  # 06:00 in New York (EDT)
        ("n", "N1", "first_sms", "sms", "failed", monday),  # failed: not a contact
        ("m", "N1", "first_email", "email", "sent", monday + timedelta(seconds=1)),  # late
    ]
    for run, family, step, kind, outcome, at in rows:
        row = step_for(ref(run, step), family_id=family, kind=kind, outcome=outcome,
                       attempts=1, channel=kind)  # fmt: skip
        row.created_at = at
        await store.steps.add(row)
    (report,) = await version_reports(store)
    # Monday 10:00 UTC is 05:00 in New York (EST) and 15:30 in Kolkata; Saturday's 06:00.
    assert {h: r.sent for h, r in report.by_hour.items()} == {15: 1, 6: 1, 5: 1}
    assert {c: r.sent for c, r in report.by_channel.items()} == {"email": 3}
    assert (report.first_contact_ok, report.first_contact_total) == (2, 3)


async def test_details_for_the_version_shown_only(store):
    await write(store)
    reports = {r.key: r for r in await version_reports(store, details=("t", 2))}
    assert reports["t", 2].by_channel["email"].sent == 1
    assert reports["t", 1].by_channel == {} and reports["t", 1].first_response_s == []
    assert reports["t", 1].started == 3 and reports["t", 1].first_contact_total == 2
    others = {r.key: r for r in await version_reports(store, details=("gone", 9))}
    assert others["t", 1].by_channel["email"].sent == 2  # no such version: the first one
