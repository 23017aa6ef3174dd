"""The generic webhook activity against a real local HTTP server, in an ActivityEnvironment."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import timedelta

import httpx
import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.webhook import WebhookActivities
from contracts import StepRef
from contracts.webhooks import (
    WEBHOOK_CONFIG,
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


@pytest.fixture
async def webhooks(store) -> AsyncIterator[WebhookActivities]:
    async with httpx.AsyncClient(timeout=5.0) as http:
        yield WebhookActivities(store, http, env={"ITSM_TOKEN": "secret-token"})


def request(fake: FakeProvider, **fields) -> WebhookRequest:
    base = {
        "ref": REF,
        "family_id": "F1",
        "url": fake.url + "/api/tickets?family={{ family_id }}",
        "headers": {"Authorization": "env:ITSM_TOKEN", "X-Source": "followthrough"},
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
            webhooks.call_webhook, request(fake, headers={"Authorization": "env:NOPE"})
        )
    assert missing.value.type == WEBHOOK_CONFIG and "NOPE" in str(missing.value)
    with pytest.raises(ApplicationError) as undefined:
        await ActivityEnvironment().run(
            webhooks.call_webhook, request(fake, body={"title": "{{ nickname }}"})
        )
    assert undefined.value.type == WEBHOOK_CONFIG and "nickname" in str(undefined.value)
    assert fake.requests == []
