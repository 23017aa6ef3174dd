"""The generic webhook activity against a real local HTTP server, in an ActivityEnvironment."""

from __future__ import annotations

import ipaddress
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta

import httpx
import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.webhook import WebhookActivities
from contracts import StepRef
from contracts.webhook_rules import WebhookPolicy
from contracts.webhooks import (
    WEBHOOK_CONFIG,
    WEBHOOK_DESTINATION,
    WEBHOOK_REJECTED,
    WEBHOOK_UNAVAILABLE,
    WebhookRequest,
)
from tests.fake_provider import Answer, FakeProvider

REF = StepRef(
    workflow_id="intervention-t-F1", run_id="r1", step_id="ticket", template="t", template_version=2
)


@pytest.fixture
def fake() -> Iterator[FakeProvider]:
    with FakeProvider(Answer(201, {"id": "INC-7", "state": "new"})).running() as server:
        yield server


# The local test server is on loopback: allowed here by name and by network.
LOCAL = WebhookPolicy(
    allowed_hosts=("127.0.0.1", "itsm.test"),
    private_networks=(ipaddress.ip_network("127.0.0.0/8"),),
)
# What the worker's environment holds: only the WEBHOOK_SECRET_* one is readable.
ENVIRONMENT = {"WEBHOOK_SECRET_ITSM": "secret-token", "DATABASE_URL": "postgresql://u:pw@db/app"}


async def to_loopback(host: str, port: int) -> list:
    # `itsm.test` is in no DNS: a call that reaches the server went to the checked address.
    return [ipaddress.ip_address("127.0.0.1")]


@pytest.fixture
async def webhooks(store) -> AsyncIterator[WebhookActivities]:
    async with httpx.AsyncClient(timeout=5.0) as http:
        yield WebhookActivities(store, http, LOCAL, ENVIRONMENT)


def request(fake: FakeProvider, **fields) -> WebhookRequest:
    base = {
        "ref": REF,
        "family_id": "F1",
        "url": fake.url + "/api/tickets?family={{ family_id }}",
        "headers": {"Authorization": "env:WEBHOOK_SECRET_ITSM", "X-Source": "followthrough"},
        "body": {
            "title": "Call the {{ family_name }} family",
            "priority": 2,
            "tags": ["{{ step_id }}"],
        },
    }
    return WebhookRequest.model_validate({**base, **fields})


async def test_call_shape_secret_header_and_audit(store, fake, webhooks):
    result = await ActivityEnvironment().run(webhooks.call_webhook, request(fake))

    assert (result.status_code, result.external_id) == (201, "INC-7")
    [call] = fake.requests
    assert (call.method, call.path) == ("POST", "/api/tickets?family=F1")
    assert call.headers["Authorization"] == "secret-token"
    assert call.headers["X-Source"] == "followthrough"
    assert call.headers["Idempotency-Key"] == REF.idempotency_key
    assert call.json() == {"title": "Call the Martinez family", "priority": 2, "tags": ["ticket"]}
    [audit] = await store.steps.for_workflow(REF.workflow_id)
    assert (audit.kind, audit.outcome, audit.provider_message_id) == (
        "webhook",
        "http 201",
        "INC-7",
    )


async def test_repeat_of_a_done_step_calls_nothing(fake, webhooks):
    await ActivityEnvironment().run(webhooks.call_webhook, request(fake))
    again = await ActivityEnvironment().run(webhooks.call_webhook, request(fake))
    assert again.duplicate and again.status_code == 201 and again.external_id == "INC-7"
    assert len(fake.requests) == 1


async def test_statuses_map_as_configured(store, fake, webhooks):
    fake.queue(Answer(409, {"error": "exists"}))
    # 409 declared a success for this system (the ticket already exists).
    ok = await ActivityEnvironment().run(
        webhooks.call_webhook, request(fake, success=["2xx", "409"])
    )
    assert ok.status_code == 409

    fake.queue(Answer(503, {}, {"Retry-After": "30"}))
    with pytest.raises(ApplicationError) as transient:
        await ActivityEnvironment().run(
            webhooks.call_webhook, request(fake, ref=REF.model_copy(update={"step_id": "b"}))
        )
    assert transient.value.type == WEBHOOK_UNAVAILABLE and not transient.value.non_retryable
    assert transient.value.next_retry_delay == timedelta(seconds=30)

    fake.queue(Answer(404, {"error": "no such queue"}))
    with pytest.raises(ApplicationError) as permanent:
        await ActivityEnvironment().run(
            webhooks.call_webhook, request(fake, ref=REF.model_copy(update={"step_id": "c"}))
        )
    assert permanent.value.type == WEBHOOK_REJECTED and permanent.value.non_retryable
    failed = [a for a in await store.steps.for_workflow(REF.workflow_id) if a.step_id == "c"]
    assert [(a.outcome, a.error_type) for a in failed] == [("failed", WEBHOOK_REJECTED)]


async def test_missing_secret_and_bad_template_fail_before_calling(fake, webhooks):
    with pytest.raises(ApplicationError) as missing:
        await ActivityEnvironment().run(
            webhooks.call_webhook,
            request(fake, headers={"Authorization": "env:WEBHOOK_SECRET_NOPE"}),
        )
    assert missing.value.type == WEBHOOK_CONFIG
    assert missing.value.message == "webhook header Authorization: WEBHOOK_SECRET_NOPE is not set"
    with pytest.raises(ApplicationError) as undefined:
        await ActivityEnvironment().run(
            webhooks.call_webhook, request(fake, body={"title": "{{ nickname }}"})
        )
    assert undefined.value.type == WEBHOOK_CONFIG and "nickname" in str(undefined.value)
    assert fake.requests == []


async def refusal(webhooks: WebhookActivities, req: WebhookRequest) -> ApplicationError:
    with pytest.raises(ApplicationError) as refused:
        await ActivityEnvironment().run(webhooks.call_webhook, req)
    assert refused.value.non_retryable
    return refused.value


async def test_a_header_reads_only_webhook_secrets(fake, webhooks):
    err = await refusal(webhooks, request(fake, headers={"X-Leak": "env:DATABASE_URL"}))
    assert err.type == WEBHOOK_CONFIG
    assert err.message == (
        "webhook header X-Leak: env:DATABASE_URL is not a webhook secret "
        "(only env:WEBHOOK_SECRET_* variables)"
    )
    assert fake.requests == []


@pytest.mark.parametrize(
    ("url", "context", "why"),
    [
        # Not an allowed destination.
        ("http://localhost:1/x", {}, "host 'localhost' is not in WEBHOOK_ALLOWED_HOSTS"),
        # The cloud metadata address.
        (
            "http://169.254.169.254/latest/meta-data/",
            {},
            "host '169.254.169.254' is not in WEBHOOK_ALLOWED_HOSTS",
        ),
        # The rendered URL is checked again: a host that came from a variable.
        (
            "http://{{ where }}/x",
            {"where": "10.0.0.5"},
            "host '10.0.0.5' is not in WEBHOOK_ALLOWED_HOSTS",
        ),
    ],
)
async def test_destinations_outside_the_allowed_hosts_are_refused(
    fake, webhooks, url, context, why
):
    err = await refusal(webhooks, request(fake, url=url, context=context))
    assert err.type == WEBHOOK_DESTINATION
    assert err.message == f"webhook destination refused: url: {why}"
    assert fake.requests == []


async def test_private_addresses_are_refused_unless_their_network_is_allowed(store, fake):
    allowed = WebhookPolicy(allowed_hosts=("169.254.169.254", "itsm.test", "127.0.0.1"))
    async with httpx.AsyncClient(timeout=5.0) as http:
        webhooks = WebhookActivities(store, http, allowed, ENVIRONMENT, resolver=to_loopback)
        metadata = await refusal(
            webhooks, request(fake, url="http://169.254.169.254/latest/meta-data/")
        )
        assert metadata.message == (
            "webhook destination refused: url: 169.254.169.254 is a link-local address; "
            "allow its network in WEBHOOK_PRIVATE_NETWORKS to call it"
        )
        # An allowed name that resolves to loopback is refused the same way.
        rebound = await refusal(webhooks, request(fake, url="http://itsm.test:1/x"))
        assert rebound.message.startswith(
            "webhook destination refused: url: itsm.test resolves to 127.0.0.1 is a loopback"
        )
        direct = await refusal(webhooks, request(fake))
        assert "127.0.0.1 is a loopback address" in str(direct)
    assert fake.requests == []


async def test_the_connection_goes_to_the_checked_address_with_the_name_as_host(store, fake):
    port = fake.url.rsplit(":", 1)[1]
    async with httpx.AsyncClient(timeout=5.0) as http:
        webhooks = WebhookActivities(store, http, LOCAL, ENVIRONMENT, resolver=to_loopback)
        result = await ActivityEnvironment().run(
            webhooks.call_webhook, request(fake, url=f"http://itsm.test:{port}/api/tickets")
        )
    assert result.status_code == 201
    [call] = fake.requests
    assert call.headers["Host"] == f"itsm.test:{port}"


async def test_redirects_are_not_followed(fake, webhooks):
    fake.queue(Answer(302, {}, {"Location": fake.url + "/elsewhere"}))
    err = await refusal(webhooks, request(fake))
    assert err.type == WEBHOOK_REJECTED and err.message == "webhook refused (302)"
    assert [r.path for r in fake.requests] == ["/api/tickets?family=F1"]


async def test_only_the_fields_the_step_names_are_kept(fake, webhooks):
    fake.queue(Answer(201, {"id": "INC-8", "state": "new", "caller": "Martinez, +1555"}))
    fake.queue(Answer(201, {"id": "INC-9", "state": "new", "caller": "Martinez, +1555"}))
    nothing = await ActivityEnvironment().run(webhooks.call_webhook, request(fake))
    assert (nothing.external_id, nothing.response) == ("INC-8", None)
    kept = await ActivityEnvironment().run(
        webhooks.call_webhook,
        request(fake, keep=["state"], ref=REF.model_copy(update={"step_id": "k"})),
    )
    assert kept.response == {"state": "new"}


async def test_a_refusal_keeps_the_status_and_code_not_the_providers_text(fake, webhooks):
    fake.queue(Answer(422, {"code": "queue_missing", "message": "no queue for martinez@x.org"}))
    err = await refusal(webhooks, request(fake))
    assert err.message == "webhook refused (422, code queue_missing)"
