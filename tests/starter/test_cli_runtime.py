"""`starter/cli_runtime.py`: problems become one clear line and exit code 1."""

from __future__ import annotations

from followthrough.platform.devserver import free_port
from tests.starter.runner import invoke


def test_unreachable_server(env, monkeypatch):
    monkeypatch.setenv("TEMPORAL_ADDRESS", f"127.0.0.1:{free_port()}")
    code, output = invoke("status", "intervention-high_risk_intervention-F1")
    assert code == 1
    assert output.startswith("error: cannot reach Temporal at 127.0.0.1:")


def test_a_bad_setting_is_one_line_naming_it(env, monkeypatch):
    monkeypatch.setenv("EMAIL_PROVIDER", "carrier-pigeon")
    code, output = invoke("tasks")
    assert (code, output) == (
        1,
        "error: EMAIL_PROVIDER must be 'outbox' or 'http', not 'carrier-pigeon'",
    )
