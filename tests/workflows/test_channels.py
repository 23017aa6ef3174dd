"""Channels from the registry under time-skipping: fallbacks between any two channels, and
a fallback that covers the next planned step on its channel."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from contracts import Channel, InterventionResult, SequenceParams, StepStatus, channels
from followthrough.platform.settings import Settings
from followthrough.triggers.imports import import_families
from followthrough.triggers.start import start_sequence
from store import Store
from tests.fake_provider import FakeProvider
from worker import build_worker


def template(*steps: dict[str, Any], **extra: Any) -> SequenceParams:
    return SequenceParams.model_validate(
        {
            "name": extra.pop("name", "channels_under_test"),
            "quiet_hours": None,
            "caps": {},
            "steps": list(steps),
            **extra,
        }
    )


async def run(env: Any, settings: Any, params: SequenceParams, family: str) -> InterventionResult:
    outcome = await start_sequence(env.client, params, family, task_queue=settings.task_queue)
    assert outcome.handle is not None, outcome.message
    return await outcome.handle.result()


async def audit(store: Store, workflow_id: str) -> list[tuple[str, str]]:
    return [(r.step_id, r.outcome) for r in await store.steps.for_workflow(workflow_id)]


async def test_an_sms_step_falls_back_to_email(time_env, store, settings, ts_worker):
    await store.families.upsert("F4", "Novak", email="novak@example.org", timezone="UTC")
    sms = {"id": "remind", "type": "sms", "message": "Hi {{ first_name }}", "fallback": "email"}
    result = await run(time_env, settings, template(sms), "F4")
    steps = [(s.step_id, s.status) for s in result.steps]
    assert steps == [("remind", StepStatus.FELL_BACK), ("remind_fallback_email", StepStatus.DONE)]
    workflow_id = "intervention-channels_under_test-F4"
    messages = await store.messages.for_workflow(workflow_id)
    assert [(m.channel, m.recipient) for m in messages] == [("email", "novak@example.org")]
    assert ("remind", "fell back to email: no phone number") in await audit(store, workflow_id)


async def test_a_fallback_covers_the_next_planned_step_on_its_channel(
    time_env, store, settings, ts_worker
):
    """F3 has no email: the email falls back to SMS, so the planned SMS is not sent again;
    the SMS after it is (only the next planned step on the channel is covered)."""
    steps: list[dict[str, Any]] = [
        {"id": "hello", "type": "email", "message": "Hello", "fallback": "sms"},
        {"id": "pause", "type": "wait", "duration": "2d"},
        {"id": "nudge", "type": "sms", "message": "A nudge", "requires_approval": True},
        {"id": "later", "type": "sms", "message": "Still here", "delay": "1d"},
    ]
    result = await run(time_env, settings, template(*steps), "F3")
    by_id = {s.step_id: s for s in result.steps}
    assert by_id["nudge"].status == StepStatus.SKIPPED
    assert by_id["nudge"].result == "covered by the fallback hello_fallback_sms"
    workflow_id = "intervention-channels_under_test-F3"
    messages = await store.messages.for_workflow(workflow_id)
    assert [m.step_id for m in messages] == ["hello_fallback_sms", "later"]
    rows = await audit(store, workflow_id)
    assert ("hello", "fell back to sms: no email address") in rows
    assert ("nudge", "skipped: covered by the fallback hello_fallback_sms") in rows


WHATSAPP_FAMILIES = """family_id,name,phone,whatsapp,whatsapp_opt_in,timezone
W1,Costa,+15550109101,+15550109201,yes,UTC
W2,Lima,+15550109102,+15550109202,,UTC
"""
WHATSAPP_FIRST = template(
    {"id": "hello", "type": "whatsapp", "message": "Hi {{ first_name }}", "fallback": "sms"},
    name="whatsapp_first",
)


async def test_whatsapp_goes_to_families_who_opted_in_and_sms_to_the_others(
    time_env, store, tmp_path
):
    """Imported from CSV: W1 said yes to WhatsApp, W2 gave a number but no opt-in."""
    csv = tmp_path / "families.csv"
    csv.write_text(WHATSAPP_FAMILIES)
    assert (await import_families(store, csv)).imported == 2
    with FakeProvider().running() as fake:
        settings = fake.settings(Settings(task_queue=f"tq-{uuid.uuid4()}"))
        async with (
            httpx.AsyncClient(timeout=5.0) as http,
            build_worker(time_env.client, store, http, settings),
        ):
            opted_in = await run(time_env, settings, WHATSAPP_FIRST, "W1")
            not_opted_in = await run(time_env, settings, WHATSAPP_FIRST, "W2")

    # The Twilio-compatible messages API got one WhatsApp message and one SMS.
    assert [(r.path, r.recipient) for r in fake.requests] == [
        ("/sms", "whatsapp:+15550109201"),
        ("/sms", "+15550109102"),
    ]
    assert [(s.step_id, s.status) for s in opted_in.steps] == [("hello", StepStatus.DONE)]
    w1 = await store.messages.for_workflow("intervention-whatsapp_first-W1")
    assert [(m.channel, m.recipient) for m in w1] == [("whatsapp", "+15550109201")]

    assert opted_in.outcome == "whatsapp sent"
    assert not_opted_in.steps[0].status == StepStatus.FELL_BACK
    assert not_opted_in.outcome == "sms sent (fallback)"  # not "whatsapp sent"
    w2 = await store.messages.for_workflow("intervention-whatsapp_first-W2")
    assert [(m.channel, m.step_id) for m in w2] == [("sms", "hello_fallback_sms")]
    rows = await audit(store, "intervention-whatsapp_first-W2")
    assert ("hello", "fell back to sms: no WhatsApp opt-in") in rows


def test_a_whatsapp_step_reads_the_registry() -> None:
    assert WHATSAPP_FIRST.steps is not None and WHATSAPP_FIRST.steps[0].sends_message
    # Its own cap and send window, unless the template sets them.
    assert channels.default_caps()[Channel.WHATSAPP].describe() == "2 a week"
    window = channels.send_window(Channel.WHATSAPP, WHATSAPP_FIRST.send_windows)
    assert window is not None and window.describe() == "09:00–19:00"


async def test_whatsapp_without_opt_in_and_no_fallback_is_skipped_and_audited(
    time_env, store, settings, ts_worker
):
    await store.families.upsert("W3", "Reis", whatsapp="+15550109203", timezone="UTC")
    only = template({"id": "hello", "type": "whatsapp", "message": "Hi"}, name="whatsapp_only")
    result = await run(time_env, settings, only, "W3")
    assert [(s.step_id, s.status) for s in result.steps] == [("hello", StepStatus.SKIPPED)]
    assert await store.messages.for_workflow("intervention-whatsapp_only-W3") == []
    rows = await audit(store, "intervention-whatsapp_only-W3")
    assert rows == [("hello", "skipped: no WhatsApp opt-in")]
