"""The HTTP channel adapters against a real local HTTP server (shapes, auth, error mapping),
and how every HTTP outcome maps to the right kind of error, status by status."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from email.utils import format_datetime
from urllib.parse import parse_qs

import httpx
import pytest
from temporalio.exceptions import ApplicationError

from activities.providers import (
    HARD_BOUNCE,
    INVALID_RECIPIENT,
    OPTED_OUT,
    PROVIDER_REJECTED,
    PROVIDER_THROTTLED,
    PROVIDER_UNAVAILABLE,
    PROVIDER_UNREACHABLE,
    RETRY_AFTER_MAX,
    HttpEmailProvider,
    HttpSmsProvider,
    WhatsAppProvider,
    classify,
)
from tests.fake_provider import Answer, FakeProvider


@pytest.fixture
def fake() -> Iterator[FakeProvider]:
    with FakeProvider().running() as server:
        yield server


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=5.0) as client:
        yield client


def email(http: httpx.AsyncClient, fake: FakeProvider) -> HttpEmailProvider:
    return HttpEmailProvider(http, f"{fake.url}/email", "server-token-1", "team@school.example")


def sms(http: httpx.AsyncClient, fake: FakeProvider) -> HttpSmsProvider:
    return HttpSmsProvider(http, f"{fake.url}/sms", "AC123", "sms-secret")


async def send(provider: HttpEmailProvider | HttpSmsProvider) -> str:
    return await provider.send(
        recipient="family@example.org", subject="Hello", body="Hi there", idempotency_key="wf/r/s1"
    )


async def test_email_request_shape_auth_and_idempotency_key(http, fake):
    fake.queue(Answer(200, {"MessageID": "pm-42", "ErrorCode": 0}))
    assert await send(email(http, fake)) == "pm-42"

    [request] = fake.requests
    assert (request.method, request.path) == ("POST", "/email")
    assert request.headers["X-Postmark-Server-Token"] == "server-token-1"
    assert request.headers["Idempotency-Key"] == "wf/r/s1"
    assert request.headers["Content-Type"] == "application/json"
    assert request.json() == {
        "From": "team@school.example",
        "To": "family@example.org",
        "Subject": "Hello",
        "TextBody": "Hi there",
    }


async def test_sms_request_shape_basic_auth_and_idempotency_key(http, fake):
    fake.queue(Answer(201, {"sid": "SM99", "status": "queued"}))
    assert await send(sms(http, fake)) == "SM99"

    [request] = fake.requests
    assert (request.method, request.path) == ("POST", "/sms")
    expected = base64.b64encode(b"AC123:sms-secret").decode()
    assert request.headers["Authorization"] == f"Basic {expected}"
    assert request.headers["Idempotency-Key"] == "wf/r/s1"
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert parse_qs(request.body.decode()) == {"To": ["family@example.org"], "Body": ["Hi there"]}


async def test_whatsapp_goes_through_the_sms_api_to_a_whatsapp_address(http, fake):
    fake.queue(Answer(201, {"sid": "SM100", "status": "queued"}))
    whatsapp = WhatsAppProvider(sms(http, fake))
    sent = await whatsapp.send(
        recipient="+15550100101", subject="Hello", body="Hi there", idempotency_key="wf/r/wa"
    )
    assert sent == "SM100" and whatsapp.name == "http-sms"
    [request] = fake.requests
    assert request.path == "/sms"
    assert parse_qs(request.body.decode()) == {
        "To": ["whatsapp:+15550100101"],
        "Body": ["Hi there"],
    }


async def failure(provider: HttpEmailProvider | HttpSmsProvider) -> ApplicationError:
    with pytest.raises(ApplicationError) as caught:
        await send(provider)
    return caught.value


@pytest.mark.parametrize(
    ("reply", "kind"),
    [
        (
            Answer(400, {"code": 21211, "message": "The 'To' number is not valid."}),
            INVALID_RECIPIENT,
        ),
        (Answer(400, {"message": "invalid recipient address"}), INVALID_RECIPIENT),
        (Answer(400, {"code": 21610, "message": "Attempt to send to unsubscribed"}), OPTED_OUT),
        (Answer(422, {"ErrorCode": 406, "Message": "Recipient marked inactive"}), HARD_BOUNCE),
        (Answer(422, {"Message": "hard bounce on this address"}), HARD_BOUNCE),
        (Answer(401, {"Message": "bad server token"}), PROVIDER_REJECTED),
    ],
)
async def test_permanent_errors_are_not_retryable(http, fake, reply, kind):
    fake.queue(reply)
    err = await failure(email(http, fake))
    assert err.type == kind
    assert err.non_retryable


async def test_server_error_is_transient(http, fake):
    fake.queue(Answer(500, {"message": "internal"}))
    err = await failure(sms(http, fake))
    assert err.type == PROVIDER_UNAVAILABLE
    assert not err.non_retryable
    assert err.next_retry_delay is None


async def test_throttling_honours_retry_after_seconds(http, fake):
    fake.queue(Answer(429, {"message": "slow down"}, {"Retry-After": "7"}))
    err = await failure(sms(http, fake))
    assert err.type == PROVIDER_THROTTLED
    assert not err.non_retryable
    assert err.next_retry_delay == timedelta(seconds=7)


async def test_throttling_honours_retry_after_http_date(http, fake):
    from datetime import UTC, datetime

    when = datetime.now(UTC) + timedelta(minutes=2)
    fake.queue(Answer(429, {}, {"Retry-After": format_datetime(when, usegmt=True)}))
    err = await failure(email(http, fake))
    assert err.next_retry_delay is not None
    assert timedelta(seconds=100) < err.next_retry_delay <= timedelta(minutes=2)


async def test_unreachable_provider_is_transient(http):
    with FakeProvider().running() as gone:
        url = gone.url  # the port is closed again after this block
    provider = HttpSmsProvider(http, f"{url}/sms", "AC123", "sms-secret")
    err = await failure(provider)
    assert err.type == PROVIDER_UNREACHABLE
    assert not err.non_retryable
    assert "sms-secret" not in str(err)


# ----------------------------------------------------------------------- classification

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


@pytest.mark.parametrize(
    ("header", "delay"),
    [
        ("inf", RETRY_AFTER_MAX),
        ("1e309", RETRY_AFTER_MAX),
        ("99999999999999999999", RETRY_AFTER_MAX),
        ("Fri, 31 Dec 9999 23:59:59 GMT", RETRY_AFTER_MAX),
        ("-5", timedelta(0)),
        ("nan", None),
    ],
)
def test_an_absurd_retry_after_is_capped_never_an_overflow(header, delay):
    with pytest.raises(ApplicationError) as caught:
        classify(response(503, {"Retry-After": header}))
    assert caught.value.next_retry_delay == delay
