"""`stats` against the real dev server: counts, durations, responses and SLO ratings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from contracts import InterventionResult
from followthrough import operations
from followthrough.reporting.stats import (
    Slo,
    add_business_days,
    collect,
    percentile,
    rate,
    render,
    slo_lines,
)
from followthrough.triggers.start import start_sequence
from tests.followthrough.web.test_inbox import end_leftover, start_quick, until


def test_percentile_and_business_days():
    assert percentile([], 50) is None
    assert percentile([5.0, 1.0, 3.0, 2.0, 4.0], 50) == 3.0
    assert percentile([float(i) for i in range(1, 101)], 95) == 95.0
    friday = datetime(2026, 11, 20, 15, tzinfo=UTC)
    assert add_business_days(friday, 1) == datetime(2026, 11, 23, 15, tzinfo=UTC)
    saturday = datetime(2026, 11, 21, 9, tzinfo=UTC)
    assert add_business_days(saturday, 1).weekday() == 0


def test_rating_takes_the_worse_slo():
    slo = Slo()
    assert rate(None, None, slo) == "green"
    assert rate(1.0, 10.0, slo) == "green"
    assert rate(0.9, 10.0, slo) == "amber"
    assert rate(1.0, 400.0, slo) == "amber"
    assert rate(1.0, 601.0, slo) == "red"
    assert rate(0.5, 0.0, slo) == "red"


async def test_stats_on_real_sequences(dev_client, dev_worker, store, settings, monkeypatch):
    scope = f"TaskQueue = '{settings.task_queue}'"
    approved = await start_quick(dev_client, store, settings, "F1")
    answered = await start_quick(dev_client, store, settings, "F2")
    await operations.respond(dev_client, answered, "email", "we are fine")

    async def gate() -> bool:
        st = await operations.status(dev_client, approved)
        return st.pending_approval is not None

    await until(gate, "the approval gate")
    await operations.decide_now(dev_client, approved, "approve", "sarah", "coordinator")
    for workflow_id in (approved, answered):
        await dev_client.get_workflow_handle(workflow_id, result_type=InterventionResult).result()

    def no_results(*args, **kwargs):
        raise AssertionError("stats fetched a sequence's result")

    # Every number comes from visibility and the store: lateness from the audit rows' timing.
    monkeypatch.setattr(dev_client, "get_workflow_handle", no_results)

    async def settled() -> dict | None:
        report = await collect(dev_client, store, scope=scope)
        done = report["by_execution_status"].get("Completed", 0) == 2
        return report if done and report["by_state"].get("completed") == 2 else None

    report = await until(settled, "visibility to show both sequences completed")
    assert report["by_template_version"] == {"demo_quick_intervention v1": 2}
    (template,) = report["templates"]
    assert template["template"] == "demo_quick_intervention" and template["sequences"] == 2
    assert template["duration_p50_s"] is not None and template["duration_p95_s"] >= 0
    assert template["first_contact_within_slo"] == 1.0
    assert template["lateness_p95_s"] is not None and template["rating"] == "green"
    email = report["responses"]["demo_quick_intervention:first_email"]
    assert (email["sent"], email["answered"], email["response_rate"]) == (2, 1, 0.5)
    assert email["time_to_response_p50_s"] is not None
    assert report["failures_by_error_type"] == {}

    text = render(report)
    assert "demo_quick_intervention:first_email" in text and "1/2 (50%)" in text
    assert slo_lines(report)[0]["text"].startswith("GREEN demo_quick_intervention")
    assert timedelta(seconds=report["slo"]["p95_lateness_s"]) == timedelta(minutes=5)


def test_the_held_out_families_are_listed_by_template_version():
    report = {
        "by_execution_status": {},
        "by_state": {},
        "by_template_version": {"outreach v2": 40},
        "held_out_by_template_version": {"outreach v2": 10},
        "templates": [],
        "responses": {},
        "failures_by_error_type": {},
        "slo": {"first_contact_business_days": 1, "p95_lateness_s": 300.0},
    }
    text = render(report)
    assert "Held out (no sequence; `followthrough impact NAME` compares them):" in text
    assert text.split("Held out")[1].splitlines()[1].split() == ["outreach", "v2", "10"]


async def test_every_template_is_counted_when_the_scan_stops_short(
    dev_client, dev_worker, store, settings
):
    # `limit` bounds the runs read one by one (newest first); the counts by template and
    # version still include a template whose runs are all older than that.
    quick = await store.templates.active("demo_quick_intervention")
    assert quick is not None
    older, _ = await store.templates.save(quick.model_copy(update={"name": "older_outreach"}))
    scope = f"TaskQueue = '{settings.task_queue}'"
    await end_leftover(dev_client, "intervention-older_outreach-F4")
    first = await start_sequence(
        dev_client, older, "F4", task_queue=settings.task_queue, prediction=None
    )
    assert first.workflow_id is not None
    newest = await start_quick(dev_client, store, settings, "F5")
    try:

        async def both_listed() -> dict | None:
            report = await collect(dev_client, store, scope=scope, limit=1)
            counts = report["by_template_version"]
            return counts if counts.get("older_outreach v1") else None

        counts = await until(both_listed, "the older template counted")
        assert counts["older_outreach v1"] == 1
        assert counts["demo_quick_intervention v1"] >= 1
    finally:
        for workflow_id in (first.workflow_id, newest):
            await end_leftover(dev_client, workflow_id)
