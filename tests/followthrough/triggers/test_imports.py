"""CSV imports (families, predictions) and `families opt-out`, on the CLI's code path."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from followthrough.triggers.imports import import_families, import_predictions
from starter.cli import app
from store import Prediction, Store

runner = CliRunner()

FAMILIES_CSV = """family_id,name,email,phone,timezone,preferred_channel,opted_out
N1,Nguyen,nguyen@example.org,+15550109001,America/Chicago,email,
N2,Bad Zone,bz@example.org,,Mars/Olympus,,
N3,Silva,,+15550109003,,sms,sms
N4,No Contact,,,UTC,,
N5,Bad Mail,not-an-address,,UTC,,
N1,Nguyen again,n2@example.org,,UTC,,
N6,Bad Channel,b6@example.org,,UTC,fax,
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


async def test_families_import_keeps_good_rows_and_names_bad_ones(store: Store, tmp_path):
    report = await import_families(store, write(tmp_path, "families.csv", FAMILIES_CSV))

    assert report.imported == 2
    assert report.problems == [
        "line 3: timezone: 'Mars/Olympus' is not an IANA time zone, e.g. America/Chicago",
        "line 5: email, phone, whatsapp: at least one is required",
        "line 6: email: 'not-an-address' is not an email address",
        "line 7: family_id: 'N1' repeats line 2",
        "line 8: preferred_channel: 'fax' is not one of email, sms, whatsapp, call",
    ]
    n1, n3 = await store.families.get("N1"), await store.families.get("N3")
    assert n1 is not None and (n1.timezone, n1.preferred_channel) == ("America/Chicago", "email")
    assert n3 is not None and n3.timezone == "America/New_York" and n3.opted_out == ["sms"]
    assert await store.families.get("N2") is None


WHATSAPP_CSV = """family_id,name,phone,whatsapp,whatsapp_opt_in
W1,Costa,+15550109101,+15550109201,yes
W2,Lima,+15550109102,+15550109202,
W3,Reis,,+15550109203,no
W4,Bad Answer,+15550109104,+15550109204,maybe
W5,Bad Number,+15550109105,call-me,yes
"""


async def test_families_import_reads_whatsapp_and_its_opt_in(store: Store, tmp_path):
    report = await import_families(store, write(tmp_path, "families.csv", WHATSAPP_CSV))

    assert report.problems == [
        "line 5: whatsapp_opt_in: 'maybe' is not yes or no",
        "line 6: whatsapp: 'call-me' is not a phone number",
    ]
    rows = {f: await store.families.get(f) for f in ("W1", "W2", "W3")}
    read = {f: (r.whatsapp, r.whatsapp_opt_in) for f, r in rows.items() if r is not None}
    assert read == {
        "W1": ("+15550109201", True),
        "W2": ("+15550109202", False),  # no answer: no opt-in
        "W3": ("+15550109203", False),
    }
    # An import without the column keeps the opt-in it had.
    again = "family_id,name,phone\nW1,Costa,+15550109101\n"
    await import_families(store, write(tmp_path, "again.csv", again))
    w1 = await store.families.get("W1")
    assert w1 is not None and w1.whatsapp_opt_in


async def test_families_import_missing_column(store: Store, tmp_path):
    report = await import_families(store, write(tmp_path, "f.csv", "id,name\nX,Y\n"))
    assert (report.imported, report.problems) == (0, ["line 1: missing column(s) family_id"])


async def test_predictions_import_summarises_each_row(
    time_env, store: Store, settings, ts_worker, tmp_path
):
    csv_text = (
        "family_id,probability,confidence,window_days,model_version\n"
        "F1,0.91,88,32,m7\n"  # high risk: starts
        "F1,0.95,90,30,m7\n"  # the same sequence is already running
        "F2,0.30,40,,m7\n"  # below every threshold
        "F9,0.91,88,,m7\n"  # unknown family
        "F2,lots,88,,m7\n"  # not a number
        "F2,1.5,88,,m7\n"  # out of range
    )
    report = await import_predictions(
        time_env.client, store, write(tmp_path, "p.csv", csv_text), task_queue=settings.task_queue
    )
    try:
        assert report.summary() == "1 started, 1 already running, 1 below threshold, 3 rejected"
        assert (
            report.lines[0] == "line 2: family F1: started intervention-high_risk_intervention-F1"
        )
        assert report.lines[3] == "line 5: rejected: family: no family with id 'F9'"
        assert report.lines[4] == "line 6: rejected: probability: 'lots' is not a number"
        assert report.lines[5].startswith("line 7: rejected: probability: must be between 0 and 1")
        async with store.sessions() as session:
            query = select(Prediction.outcome).where(Prediction.family_id == "F1")
            outcomes = list(await session.scalars(query.order_by(Prediction.id)))
        assert outcomes == ["started", "already_running"]
    finally:
        handle = time_env.client.get_workflow_handle("intervention-high_risk_intervention-F1")
        await handle.terminate("test over")


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, store: Store, tmp_path: Path) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'store.db'}")


def test_opt_out_command(env, tmp_path: Path):
    ok = runner.invoke(app, ["families", "opt-out", "F2", "--channel", "sms"])
    assert ok.exit_code == 0, ok.output

    async def opted_out() -> list[str]:
        async with Store.from_url(f"sqlite+aiosqlite:///{tmp_path / 'store.db'}") as fresh:
            family = await fresh.families.get("F2")
            assert family is not None
            return family.opted_out

    assert asyncio.run(opted_out()) == ["sms"]

    bad = runner.invoke(app, ["families", "opt-out", "F2", "--channel", "fax"])
    assert bad.exit_code == 1
    assert "error: channel: 'fax' is not one of email, sms, whatsapp, call" in bad.output
    unknown = runner.invoke(app, ["families", "opt-out", "F404", "--channel", "sms"])
    assert unknown.exit_code == 1 and "error: family: no family with id 'F404'" in unknown.output


def test_families_import_command(env, tmp_path: Path):
    result = runner.invoke(app, ["families", "import", str(write(tmp_path, "f.csv", FAMILIES_CSV))])
    assert result.exit_code == 0, result.output
    assert "2 families imported, 5 rows rejected" in result.output
    assert "line 3: timezone" in result.output
    missing = runner.invoke(app, ["families", "import", str(tmp_path / "nope.csv")])
    assert missing.exit_code == 1 and "no such file" in missing.output


def test_the_prediction_summary_counts_held_out_families() -> None:
    from collections import Counter

    from followthrough.triggers.imports import PredictionImport

    report = PredictionImport(Counter({"started": 8, "held_out": 2}))
    assert report.summary() == (
        "8 started, 0 already running, 0 below threshold, 0 rejected, 2 held out"
    )
    assert "held out" not in PredictionImport(Counter({"started": 1})).summary()
