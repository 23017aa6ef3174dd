"""`followthrough status|list|tasks|stats`: what operators read, and what they get wrong."""

from __future__ import annotations

from followthrough.platform.devserver import DevServer
from tests.starter.runner import invoke


def test_unknown_workflow(env, dev_server: DevServer, monkeypatch):
    monkeypatch.setenv("TEMPORAL_ADDRESS", dev_server.address)
    code, output = invoke("status", "intervention-high_risk_intervention-NOPE")
    assert (code, output) == (
        1,
        "error: workflow id: no sequence 'intervention-high_risk_intervention-NOPE'",
    )
    code, output = invoke("status", "not-ours")
    assert (code, output) == (1, "error: workflow id: 'not-ours' is not an intervention id")


def test_tasks_without_any_and_with_a_bad_time_zone(env):
    assert invoke("tasks") == (0, "no open tasks")
    code, output = invoke("tasks", "--today", "--timezone", "Mars/Olympus")
    assert code == 1 and output.startswith("error: timezone: unknown time zone 'Mars/Olympus'")
