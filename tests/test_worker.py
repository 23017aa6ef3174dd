"""`worker.py`, the composition root: what it builds comes from the one `Settings`."""

from __future__ import annotations

from datetime import timedelta

import httpx

from activities.breaker import BreakerPolicy, BreakerProvider
from contracts import Channel
from followthrough.platform.settings import Settings
from worker import breaker_policy_from, build_providers


def test_breaker_policy_comes_from_the_settings():
    settings = Settings.from_env({"BREAKER_FAILURE_THRESHOLD": "2", "BREAKER_OPEN_SECONDS": "1.5"})
    assert breaker_policy_from(settings) == BreakerPolicy(2, timedelta(seconds=1.5))


async def test_http_providers_get_a_breaker_with_that_policy():
    settings = Settings(
        email_provider="http",
        email_api_url="http://mail",
        email_api_token="t",
        breaker_failure_threshold=3,
    )
    async with httpx.AsyncClient() as http:
        providers = build_providers(settings, http)
    email, sms = providers[Channel.EMAIL], providers[Channel.SMS]
    assert isinstance(email, BreakerProvider) and not isinstance(sms, BreakerProvider)
    assert email.breaker.policy.failure_threshold == 3
