"""Every step leaves an audit row, and `audit --family` prints them without any PII."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from followthrough.reporting.audit import AuditError, family_audit
from starter.cli import app
from store import Store
from tests.workflows.test_sequences import COORDINATOR, start

runner = CliRunner()


async def test_every_step_is_audited_without_pii(time_env, store: Store, settings, ts_worker):
    await store.families.opt_out("F1", "email")
    handle = await start(time_env, store, settings)
    await handle.signal("approve", COORDINATOR)
    await handle.result()

    rows = await store.steps.for_workflow(handle.id)
    assert [(r.step_id, r.outcome, r.error_type) for r in rows] == [
        ("first_email", "fell back to sms: opted out of email", "NoUsableChannel"),
        ("first_email_fallback_sms", "sent", None),
        ("wait_reply", "no reply", None),
        ("answered", "False", None),
        ("first_sms", "skipped: covered by the fallback first_email_fallback_sms", None),
        ("call", rows[-1].outcome, None),
    ]
    assert rows[-1].outcome.startswith("task ")

    report = await family_audit(store, "F1")
    assert report.opted_out == ["email"]
    assert len(report.lines) == 6
    assert "first_email_fallback_sms" in report.lines[1] and ": sent" in report.lines[1]
    text = "\n".join(report.lines)
    for secret in ("martinez@example.org", "+15550100001", "Martinez", "Hi "):
        assert secret not in text


async def test_unknown_family(store: Store):
    with pytest.raises(AuditError, match="family: no family with id 'F404'"):
        await family_audit(store, "F404")


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, store: Store, tmp_path: Path) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'store.db'}")


def test_audit_command(env):
    empty = runner.invoke(app, ["audit", "--family", "F2"])
    assert empty.exit_code == 0, empty.output
    assert "family F2   opted out: none" in empty.output and "no steps recorded" in empty.output
    unknown = runner.invoke(app, ["audit", "--family", "F404"])
    assert unknown.exit_code == 1 and "error: family: no family with id 'F404'" in unknown.output


async def test_a_held_out_family_shows_its_holdout_decision(store: Store):
    from datetime import UTC, datetime

    from store.starts import NewStart

    prediction = await store.predictions.add("F2", 0.93, 91)
    at = datetime(2026, 10, 1, 9, 0, tzinfo=UTC)
    await store.starts.add(
        NewStart("F2", "outreach", 4, "wf", "prediction", at, True, prediction.id)
    )
    await store.starts.add(NewStart("F2", "outreach", 4, "wf", "prediction", at))  # a start
    report = await family_audit(store, "F2")
    assert report.lines == [
        f"2026-10-01T09:00:00+00:00  outreach v4  held out: no sequence  prediction {prediction.id}"
    ]
