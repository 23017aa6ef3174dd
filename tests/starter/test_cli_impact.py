"""`followthrough impact-demo`, `outcomes import|record`, `impact`, `calibration`: what a new
user types, start to finish, and the one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

from followthrough import impact_demo
from tests.starter.runner import invoke_async as run

SHIPPED = impact_demo.DEMO_DIR / "outcomes.csv"


async def test_the_demo_shows_a_lift_and_a_calibration_curve(env, tmp_path: Path):
    code, output = await run("impact-demo")
    assert code == 0, output
    assert output.startswith("4,000 families and 4,000 predictions from August and September")
    assert f"followthrough outcomes import {SHIPPED}" in output
    assert (await run("impact-demo"))[1].startswith("the impact demo's history is already loaded")

    code, output = await run("outcomes", "import", str(SHIPPED))
    assert code == 0 and output.endswith("window), 0 rows rejected"), output
    assert output.startswith(f"{len(impact_demo.population().outcomes)} outcomes accepted")
    code, output = await run("outcomes", "import", str(SHIPPED))
    assert code == 0 and "(0 new, " in output

    code, output = await run("impact", "retention_outreach", "--json")
    assert code == 0, output
    result = json.loads(output)
    for key in ("treated", "held_out", "success_rate_treated", "success_rate_held_out"):
        assert result[key] is not None
    assert 0 < result["ci_low_pp"] < result["lift_pp"] < result["ci_high_pp"]
    assert set(result["versions"]) == {"1", "2"}
    assert result["versions"]["2"]["lift_pp"] > result["versions"]["1"]["lift_pp"]
    code, text = await run("impact", "retention_outreach", "--version", "1")
    assert code == 0 and "beyond noise" in text.splitlines()[1]

    code, output = await run("calibration", "--csv")
    assert code == 0
    lines = output.splitlines()
    assert lines[0].startswith("model_version,low,high") and len(lines) == 21
    code, output = await run("calibration", "--model-version", "churn-2026.09")
    assert code == 0 and output.startswith("model churn-2026.09: ")
    assert "outside the interval" in output


async def test_bad_input_is_one_line(env, tmp_path: Path):
    assert await run("impact", "nothing") == (1, "error: template: no template named 'nothing'")
    code, output = await run("impact", "high_risk_intervention", "--since", "last week")
    assert (code, output) == (1, "error: since: 'last week' is not a date, e.g. 2026-09-01")
    code, output = await run("outcomes", "record", "--family", "NOPE", "--outcome", "withdrew")
    assert (code, output) == (1, "error: family: no family with id 'NOPE'")
    code, output = await run(
        "outcomes", "record", "--family", "F1", "--outcome", "x", "--at", "soon"
    )
    assert code == 1 and output.startswith("error: at: 'soon' is not an ISO date")
    assert await run("calibration", "--json", "--csv") == (1, "error: --json, --csv: choose one")
    code, output = await run("calibration", "--json")
    assert code == 0 and json.loads(output) == {"models": []}
    missing = tmp_path / "none.csv"
    assert await run("outcomes", "import", str(missing)) == (1, f"error: {missing}: no such file")
