"""The send activities in an ActivityEnvironment, on the outbox provider and a real store."""

from __future__ import annotations

from datetime import datetime

import httpx
import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.channels import FREQUENCY_CAPPED, ChannelActivities
from activities.providers import OPTED_OUT, OutboxProvider
from contracts import Channel, MessageTemplate, SendRequest, StepOutcome, StepRef
from contracts import channels as registry
from contracts.caps import FrequencyCap
from tests.fake_provider import FakeProvider
from worker import build_providers

HELLO = MessageTemplate(subject="Hello {{ family_name }}", body="Hi {{ first_name }}")


def request(family: str = "F1", step: str = "first_email", **fields: object) -> SendRequest:
    ref = StepRef(
        workflow_id=f"intervention-t-{family}",
        run_id="r1",
        step_id=step,
        template="t",
        template_version=1,
    )
    return SendRequest.model_validate(
        {
            "ref": ref,
            "family_id": family,
            "channel": Channel.EMAIL,
            "template_name": "hello",
            "message": HELLO,
            **fields,
        }
    )


@pytest.fixture
def channels(store) -> ChannelActivities:
    return ChannelActivities(store, {c: OutboxProvider() for c in Channel})


async def test_a_send_renders_records_and_writes_its_carried_rows_first(store, channels):
    wait = StepOutcome(
        ref=request(step="wait_reply").ref, family_id="F1", kind="wait", outcome="no reply"
    )
    result = await ActivityEnvironment().run(channels.send_email, request(audits=[wait]))
    assert result.provider == "outbox" and not result.duplicate
    [message] = await store.messages.for_workflow("intervention-t-F1")
    assert (message.subject, message.body) == ("Hello Martinez", "Hi Martinez")
    rows = [(r.step_id, r.outcome) for r in await store.steps.for_workflow("intervention-t-F1")]
    assert rows == [("wait_reply", "no reply"), ("first_email", "sent")]


async def test_a_repeated_step_sends_nothing_again(store, channels):
    env = ActivityEnvironment()
    first = await env.run(channels.send_email, request())
    again = await env.run(channels.send_email, request())
    assert again.duplicate and again.message_id == first.message_id
    assert len(await store.messages.for_workflow("intervention-t-F1")) == 1


@pytest.mark.parametrize(
    ("family", "channel", "error"),
    [
        ("F9", Channel.EMAIL, "UnknownFamily"),
        ("F3", Channel.EMAIL, "InvalidRecipient"),  # F3 has no email address
    ],
)
async def test_what_cannot_be_sent_is_a_business_error(channels, family, channel, error):
    with pytest.raises(ApplicationError) as caught:
        await ActivityEnvironment().run(
            channels.send_email, request(family=family, channel=channel)
        )
    assert caught.value.type == error and caught.value.non_retryable


async def test_an_opted_out_channel_is_refused(store, channels):
    await store.families.opt_out("F1", "email")
    with pytest.raises(ApplicationError) as caught:
        await ActivityEnvironment().run(channels.send_email, request())
    assert caught.value.type == "OptedOut"


async def test_a_full_cap_names_the_next_slot(channels):
    cap = FrequencyCap(limit=1, per="day")
    env = ActivityEnvironment()
    await env.run(channels.send_email, request(step="one", cap=cap))
    with pytest.raises(ApplicationError) as caught:
        await env.run(channels.send_email, request(step="two", cap=cap))
    assert caught.value.type == FREQUENCY_CAPPED
    # The start of the family's next local day (F1 lives in UTC), after the send's own time.
    next_slot = datetime.fromisoformat(caught.value.details[0]["next_slot"])
    assert next_slot.tzinfo is not None and (next_slot.hour, next_slot.minute) == (0, 0)


async def test_a_message_that_cannot_render_is_a_template_error(channels):
    broken = MessageTemplate(body="Hi {{ nickname }")
    with pytest.raises(ApplicationError) as caught:
        await ActivityEnvironment().run(channels.send_email, request(message=broken))
    assert caught.value.type == "TemplateError"


async def test_a_channel_is_never_sent_by_another_channels_activity(store, channels):
    """An SMS request that reaches the email activity is refused, and nothing is sent."""
    with pytest.raises(ApplicationError) as caught:
        await ActivityEnvironment().run(
            channels.send_email, request(channel=Channel.SMS, message=HELLO)
        )
    assert caught.value.type == "WrongChannel" and caught.value.non_retryable
    assert "the email send was asked to send sms" in caught.value.message
    assert await store.messages.for_workflow("intervention-t-F1") == []


def test_the_worker_gets_one_send_activity_per_message_channel(channels):
    names = [a.__name__ for a in channels.activities()]
    assert names == [e.activity for e in registry.message_channels()]


async def test_a_stop_after_the_decision_stops_the_send(store, settings):
    """The sequence decided to send while the family could be reached; a STOP landed before
    the provider call (the receiver opts the family out in the store): nothing goes out."""
    with FakeProvider().running() as provider:
        async with httpx.AsyncClient(timeout=5.0) as http:
            channels = ChannelActivities(store, build_providers(provider.settings(settings), http))
            await store.families.opt_out("F1", "sms")  # STOP, after the workflow's decision
            with pytest.raises(ApplicationError) as refused:
                await ActivityEnvironment().run(
                    channels.send_sms, request(step="first_sms", channel=Channel.SMS)
                )
    assert refused.value.type == OPTED_OUT and refused.value.non_retryable
    assert provider.requests == []  # the provider was never called
    assert await store.messages.for_workflow("intervention-t-F1") == []  # nothing counts


async def test_whatsapp_needs_the_familys_opt_in(store, channels):
    await store.families.upsert("F1", "Martinez", whatsapp="+15550100101")
    ask = request(step="hello", channel=Channel.WHATSAPP, message=HELLO)
    with pytest.raises(ApplicationError) as caught:
        await ActivityEnvironment().run(channels.send_whatsapp, ask)
    assert caught.value.type == "InvalidRecipient" and caught.value.non_retryable
    assert caught.value.message == "family has not opted in to WhatsApp"

    await store.families.upsert("F1", "Martinez", whatsapp_opt_in=True)
    await ActivityEnvironment().run(channels.send_whatsapp, ask)
    [message] = await store.messages.for_workflow("intervention-t-F1")
    assert (message.channel, message.recipient) == ("whatsapp", "+15550100101")
