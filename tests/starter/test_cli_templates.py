"""`templates validate|load|show|diff|activate|deactivate|simulate` through the CLI."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from tests.starter.runner import invoke as run
from tests.starter.runner import invoke_split

TEMPLATES = Path(__file__).parent.parent.parent / "templates"


def test_validate_names_the_step_then_the_fixed_file_loads(env, tmp_path):
    data = yaml.safe_load((TEMPLATES / "high_risk_as_data.yaml").read_text())
    data["name"] = "my_sequence"
    data["steps"][2]["else"] = "first_smss"
    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump(data))
    code, output = run("templates", "validate", str(path))
    assert code == 1
    assert output == f"error: {path}: step 'answered': else: no step with id 'first_smss'"

    data["steps"][2]["else"] = "first_sms"
    path.write_text(yaml.safe_dump(data))
    assert run("templates", "validate", str(path))[0] == 0
    assert run("templates", "load", str(path)) == (0, "my_sequence v1 loaded")


def test_versions_show_diff_and_switches(env, tmp_path):
    data = yaml.safe_load((TEMPLATES / "high_risk_as_data.yaml").read_text())
    data["steps"][1]["duration"] = "4d"
    path = tmp_path / "v2.yaml"
    path.write_text(yaml.safe_dump(data))
    assert run("templates", "load", str(path)) == (0, "high_risk_as_data v2 loaded")

    code, output = run("templates", "show", "high_risk_as_data", "--version", "1")
    assert code == 0
    assert output.startswith("# high_risk_as_data v1 (active)")
    assert "duration: P3D" in output

    code, output = run("templates", "diff", "high_risk_as_data", "1", "2")
    assert code == 0
    assert "-  duration: P3D" in output and "+  duration: P4D" in output

    assert run("templates", "deactivate", "high_risk_as_data") == (
        0,
        "high_risk_as_data deactivated: v1, v2",
    )
    code, output = run("templates", "list")
    assert re.search(r"high_risk_as_data\s+v2\s+inactive", output)
    assert run("templates", "activate", "high_risk_as_data", "--version", "1") == (
        0,
        "high_risk_as_data activated: v1",
    )
    assert run("templates", "show", "nope") == (1, "error: template: no stored template 'nope'")


def test_simulate_prints_the_local_timeline(env):
    code, output, progress = invoke_split(
        "templates", "simulate", "high_risk_as_data", "--family", "F2"
    )
    assert code == 0, output + progress
    # Its phases on stderr, the timeline alone on stdout.
    assert progress.splitlines()[:2] == [
        "simulate: starting a time-skipping server",
        "simulate: running high_risk_as_data v1 for F2, time skipped",
    ]
    assert re.fullmatch(r"simulate: done in \d+s", progress.splitlines()[2])
    lines = output.splitlines()
    assert lines[0].startswith("high_risk_as_data v1 for family F2 (America/New_York)")
    steps = [line.split()[9] for line in lines if re.match(r"\s*\+\d+d", line)]
    assert steps == ["first_email", "wait_reply", "answered", "first_sms", "call"]
    for line in lines:
        match = re.match(r"\s*\+\d+d \d\d:\d\d\s+(\w{3}) \S+ (\d\d):\d\d E[SD]T", line)
        if match:
            # New York local time, never at night or at the weekend.
            assert match.group(1) not in ("Sat", "Sun")
            assert 8 <= int(match.group(2)) < 20
    assert lines[-1].startswith("outcome: completed - call scheduled (simulated ")


def test_simulate_a_reply_and_a_thirty_day_sequence(env, tmp_path):
    code, output = run(
        "templates", "simulate", "high_risk_as_data", "--family", "F1", "--respond-after", "1h"
    )
    assert code == 0, output
    assert output.splitlines()[-1].startswith("outcome: completed - responded to outreach")

    month = {
        "name": "month_long",
        "quiet_hours": None,
        "messages": {"hi": {"body": "Hi {{ first_name }}"}},
        "steps": [
            {"id": "hello", "type": "sms", "template": "hi"},
            {"id": "later", "type": "sms", "template": "hi", "delay": "30d"},
        ],
    }
    path = tmp_path / "month.yaml"
    path.write_text(yaml.safe_dump(month))
    code, output = run("templates", "simulate", str(path), "--family", "F1")
    assert code == 0, output
    assert "+30d 00:00" in output
    assert output.splitlines()[-1].startswith("outcome: completed - sms sent (simulated 30d")


def test_simulate_bad_input(env):
    assert run("templates", "simulate", "high_risk_as_data", "--family", "NOPE") == (
        1,
        "error: family: no family with id 'NOPE'",
    )
    code, output = run(
        "templates", "simulate", "high_risk_as_data", "--family", "F1", "--respond-after", "soon"
    )
    assert code == 1 and output.startswith("error: respond-after: not a duration")


def test_template_file_errors_name_the_field(env, tmp_path: Path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "name: Bad Name\nworkflow: HighRiskIntervention\ndelays: {wait_for_reply: soon}\n"
    )
    code, output = run("templates", "validate", str(bad))
    assert code == 1
    assert "name: Value error, use lower-case letters" in output
    assert "delays: Value error, not a duration: 'soon'" in output

    unknown_var = tmp_path / "vars.yaml"
    unknown_var.write_text(
        "name: ok_name\nworkflow: HighRiskIntervention\n"
        "messages: {hello: {body: 'Hi {{ nickname }}'}}\n"
    )
    code, output = run("templates", "validate", str(unknown_var))
    assert code == 1
    assert "messages.hello: unknown variable(s) nickname" in output

    code, output = run("templates", "validate", str(tmp_path / "missing.yaml"))
    assert code == 1 and output.endswith("missing.yaml: no such file")


def test_simulate_says_when_a_real_start_would_hold_the_family_out(env, tmp_path):
    from contracts import SequenceParams
    from followthrough.triggers.holdout import held_out

    data = yaml.safe_load((TEMPLATES / "high_risk_as_data.yaml").read_text())
    data.update(holdout_percent=50, success_outcome="retained")
    salt = next(
        s
        for s in map(str, range(100))
        if held_out(SequenceParams.model_validate({**data, "holdout_salt": s}), "F1")
    )
    path = tmp_path / "measured.yaml"
    path.write_text(yaml.safe_dump({**data, "holdout_salt": salt}))
    code, output = run("templates", "simulate", str(path), "--family", "F1")
    assert code == 0, output
    assert (
        "  held out: family F1 is in the 50% holdout, so a real start gives it no sequence; "
        "below is what it would get" in output.splitlines()
    )
    assert output.splitlines()[-1].startswith("outcome: completed - call scheduled")
