"""The CLI's answers to bad input: one clear line, a non-zero exit, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from followthrough.platform.devserver import DevServer, free_port
from starter.cli import app
from store import Store

runner = CliRunner()


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, store: Store, tmp_path: Path) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'store.db'}")


def run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    assert "Traceback" not in result.output
    return result.exit_code, result.output.strip()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--probability", "1.7", "--confidence", "80"],
            "probability: must be between 0 and 1, got 1.7",
        ),
        (
            ["--probability", "0.9", "--confidence", "180"],
            "confidence: must be between 0 and 100, got 180.0",
        ),
    ],
)
def test_predict_rejects_out_of_range(env, args, message):
    # Checked before anything connects: no server is needed to refuse these.
    code, output = run("predict", "--family", "F1", *args)
    assert (code, output) == (1, f"error: {message}")


def test_unreachable_server(env, monkeypatch):
    monkeypatch.setenv("TEMPORAL_ADDRESS", f"127.0.0.1:{free_port()}")
    code, output = run("status", "intervention-high_risk_intervention-F1")
    assert code == 1
    assert output.startswith("error: cannot reach Temporal at 127.0.0.1:")


def test_unknown_family_and_template(env, dev_server: DevServer, monkeypatch):
    monkeypatch.setenv("TEMPORAL_ADDRESS", dev_server.address)
    code, output = run("predict", "--family", "NOPE", "--probability", "0.9", "--confidence", "90")
    assert (code, output) == (1, "error: family: no family with id 'NOPE'")
    code, output = run("trigger", "no_such_template", "--family", "F1")
    assert (code, output) == (1, "error: template: no active template named 'no_such_template'")


def test_unknown_workflow_and_bad_channel(env, dev_server: DevServer, monkeypatch):
    monkeypatch.setenv("TEMPORAL_ADDRESS", dev_server.address)
    code, output = run("status", "intervention-high_risk_intervention-NOPE")
    assert (code, output) == (
        1,
        "error: workflow id: no sequence 'intervention-high_risk_intervention-NOPE'",
    )
    code, output = run("status", "not-ours")
    assert (code, output) == (1, "error: workflow id: 'not-ours' is not an intervention id")
    code, output = run("respond", "intervention-x-F1", "--channel", "pigeon")
    assert code == 1 and output.startswith("error: channel: 'pigeon' is not one of email, sms")


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
