"""`followthrough health`, `templates resume|suspended`: what operators read and type."""

from __future__ import annotations

from store import Store
from tests.starter.runner import invoke_async as run


async def test_health_shows_recorded_breakers(env, store: Store):
    assert await run("health") == (0, "no breaker has changed state: every provider is healthy")
    await store.health.record(
        provider="http-email",
        worker="host:1",
        state="open",
        consecutive_failures=5,
        open_until=None,
        last_error="ProviderUnavailable: provider error 503",
        transitions=1,
    )
    code, output = await run("health")
    assert code == 0
    assert "http-email" in output and "open" in output and "failures=5" in output
    assert "last error: ProviderUnavailable: provider error 503" in output


async def test_templates_resume_and_suspended(env, store: Store):
    assert await run("templates", "suspended") == (0, "no template is suspended")
    code, output = await run("templates", "resume", "high_risk_intervention")
    assert (code, output) == (1, "error: template: 'high_risk_intervention' is not suspended")
    await store.suspensions.suspend("high_risk_intervention", "6 of its sequences failed")
    code, output = await run("templates", "suspended")
    assert "high_risk_intervention" in output and "6 of its sequences failed" in output
    code, output = await run("templates", "resume", "high_risk_intervention", "--by", "sarah")
    assert code == 0 and "resumed" in output
    row = await store.suspensions.get("high_risk_intervention")
    assert row is not None and not row.suspended and row.resumed_by == "sarah"
