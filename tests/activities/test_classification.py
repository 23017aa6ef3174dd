"""Every HTTP outcome maps to the right kind of error: the issue's table, status by status."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from temporalio.exceptions import ApplicationError

from activities.providers import PROVIDER_UNREACHABLE, HttpSmsProvider, classify

PERMANENT = [400, 401, 403, 404, 410, 413, 422]
TRANSIENT = [408, 409, 429, 500, 502, 503, 504]


def response(status: int, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(status, json={"Message": "no"}, headers=headers)


@pytest.mark.parametrize("status", [200, 201, 202])
def test_success_raises_nothing(status):
    classify(response(status))


@pytest.mark.parametrize("status", PERMANENT)
def test_other_4xx_are_permanent(status):
    with pytest.raises(ApplicationError) as caught:
        classify(response(status))
    assert caught.value.non_retryable and caught.value.type


@pytest.mark.parametrize("status", TRANSIENT)
def test_5xx_408_409_429_are_transient(status):
    with pytest.raises(ApplicationError) as caught:
        classify(response(status))
    assert not caught.value.non_retryable
    assert caught.value.next_retry_delay is None  # no Retry-After: the policy's backoff


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_becomes_the_next_retry_delay(status):
    with pytest.raises(ApplicationError) as caught:
        classify(response(status, {"Retry-After": "7"}))
    assert caught.value.next_retry_delay == timedelta(seconds=7)


@pytest.mark.parametrize(
    "error",
    [httpx.ConnectError("refused"), httpx.ReadTimeout("slow"), httpx.RemoteProtocolError("x")],
)
async def test_timeouts_and_connection_errors_are_transient(error):
    def fail(request: httpx.Request) -> httpx.Response:
        raise error

    async with httpx.AsyncClient(transport=httpx.MockTransport(fail)) as http:
        provider = HttpSmsProvider(http, "http://127.0.0.1:9/sms", "AC", "token")
        with pytest.raises(ApplicationError) as caught:
            await provider.send(recipient="+1555", subject=None, body="hi", idempotency_key="k")
    assert caught.value.type == PROVIDER_UNREACHABLE and not caught.value.non_retryable
