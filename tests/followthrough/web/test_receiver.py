"""The callback receiver: signed callbacks act, unsigned or tampered ones are refused (401)."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any

import httpx
import pytest

from contracts import CancelRequest, InterventionResult, InterventionStatus, State, StepStatus
from followthrough.platform.settings import Settings, SettingsError
from followthrough.triggers.start import start_sequence
from followthrough.web.receiver import SIGNATURE_HEADER, TIMESTAMP_HEADER, create_receiver, sign
from store import Store

SECRET = b"receiver-secret-for-tests"


def signed(payload: dict[str, Any], *, secret: bytes = SECRET, at: float | None = None) -> dict:
    body = json.dumps(payload).encode()
    timestamp = str(int(at if at is not None else time.time()))
    headers = {TIMESTAMP_HEADER: timestamp, SIGNATURE_HEADER: sign(secret, timestamp, body)}
    return {"content": body, "headers": {**headers, "Content-Type": "application/json"}}


def receiver_client(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://receiver")


async def record_sms(store: Store, family: str, provider_id: str) -> None:
    await store.messages.record(
        idempotency_key=f"intervention-x-{family}/{uuid.uuid4()}/{provider_id}",
        family_id=family,
        workflow_id=f"intervention-x-{family}",
        step_id="sms",
        channel="sms",
        provider="http-sms",
        provider_message_id=provider_id,
        recipient="+15550100002",
        subject=None,
        body="hello",
    )


async def test_reply_signals_only_when_signed(dev_client, dev_worker, store, settings):
    params = await store.templates.active("high_risk_intervention")
    assert params is not None
    params = params.model_copy(update={"quiet_hours": None})
    outcome = await start_sequence(dev_client, params, "F1", task_queue=settings.task_queue)
    assert outcome.handle is not None
    for _ in range(100):  # the first email goes out at once
        messages = await store.messages.for_workflow(outcome.handle.id)
        # A send records its intent first; wait for the provider's answer on it.
        if messages and all(m.provider_message_id for m in messages):
            break
        await asyncio.sleep(0.1)
    [email] = messages
    reply = {"event": "replied", "message_id": email.provider_message_id, "text": "Call me"}
    app = create_receiver(dev_client, store, SECRET)

    async with receiver_client(app) as http:
        unsigned = await http.post("/callbacks", json=reply)
        tampered = signed(reply)
        tampered["content"] = tampered["content"].replace(b"Call me", b"Call ME")
        forged = await http.post("/callbacks", **signed(reply, secret=b"someone-elses-secret"))
        stale = await http.post("/callbacks", **signed(reply, at=time.time() - 3600))
        changed = await http.post("/callbacks", **tampered)
        for refused in (unsigned, forged, stale, changed):
            assert refused.status_code == 401, refused.text
        status = await outcome.handle.query("status", result_type=InterventionStatus)
        assert status.responses == []  # nothing reached the sequence

        accepted = await http.post("/callbacks", **signed(reply))
        assert accepted.status_code == 200, accepted.text
        assert accepted.json()["action"] == f"reply signalled to {outcome.handle.id}"
        again = await http.post("/callbacks", **signed(reply))
        assert again.json()["action"] == "replied: already recorded"

    result = await outcome.handle.result()
    assert isinstance(result, InterventionResult)
    assert (result.state, result.outcome) == (State.COMPLETED, "responded to outreach")
    audit = await store.steps.for_workflow(outcome.handle.id)
    assert [(a.kind, a.outcome) for a in audit if a.kind == "callback"] == [("callback", "replied")]


async def test_a_bounce_makes_the_sequence_fall_back(dev_client, dev_worker, store, settings):
    params = await store.templates.active("high_risk_intervention")
    assert params is not None
    params = params.model_copy(update={"quiet_hours": None})
    outcome = await start_sequence(dev_client, params, "F1", task_queue=settings.task_queue)
    assert outcome.handle is not None
    for _ in range(100):
        messages = await store.messages.for_workflow(outcome.handle.id)
        # A send records its intent first; wait for the provider's answer on it.
        if messages and all(m.provider_message_id for m in messages):
            break
        await asyncio.sleep(0.1)
    [email] = messages
    bounce = {"event": "bounced", "message_id": email.provider_message_id, "text": "550 5.1.1"}
    app = create_receiver(dev_client, store, SECRET)
    async with receiver_client(app) as http:
        unsigned = await http.post("/callbacks", json=bounce)
        assert unsigned.status_code == 401
        accepted = await http.post("/callbacks", **signed(bounce))
        assert accepted.status_code == 200, accepted.text
        assert accepted.json()["action"] == (
            f"message marked bounced; bounce signalled to {outcome.handle.id}"
        )
        again = await http.post("/callbacks", **signed(bounce))
        assert again.json()["action"] == "bounced: already recorded"

    for _ in range(100):
        status = await outcome.handle.query("status", result_type=InterventionStatus)
        steps = {s.step_id: s for s in status.steps}
        if "first_email_fallback_sms" in steps and status.state == State.SCHEDULED:
            break
        await asyncio.sleep(0.1)
    assert steps["first_email"].status == StepStatus.FELL_BACK
    assert steps["first_email"].error == "HardBounce: 550 5.1.1"
    assert steps["first_email_fallback_sms"].status == StepStatus.DONE
    assert status.current_step == "wait_reply"  # still waiting for a reply
    messages = await store.messages.for_workflow(outcome.handle.id)
    assert [(m.channel, m.status) for m in messages] == [("email", "bounced"), ("sms", "sent")]
    await outcome.handle.signal("cancel", CancelRequest(reason="test over"))
    await outcome.handle.result()


async def test_stop_bounce_and_bad_input(dev_client, store):
    await record_sms(store, "F2", "SM-stop")
    await record_sms(store, "F2", "SM-bounce")
    app = create_receiver(dev_client, store, SECRET)
    async with receiver_client(app) as http:
        stop = await http.post(
            "/callbacks", **signed({"event": "replied", "message_id": "SM-stop", "text": " stop "})
        )
        assert stop.status_code == 200 and stop.json()["action"] == "family opted out of sms"
        bounce = await http.post(
            "/callbacks", **signed({"event": "bounced", "message_id": "SM-bounce"})
        )
        assert bounce.status_code == 200
        # No such sequence is running: the message and the audit still record the bounce.
        assert bounce.json()["action"] == (
            "message marked bounced; ignored: the run that sent it has finished"
        )
        late = await http.post(
            "/callbacks", **signed({"event": "delivered", "message_id": "SM-bounce"})
        )
        assert late.status_code == 200

        unknown = await http.post("/callbacks", **signed({"event": "replied", "message_id": "?"}))
        assert unknown.status_code == 404
        bad = await http.post("/callbacks", **signed({"event": "opened", "message_id": "SM-stop"}))
        assert bad.status_code == 400 and bad.json()["action"].startswith("event:")

    family = await store.families.get("F2")
    assert family is not None and family.opted_out == ["sms"]
    messages = {m.provider_message_id: m.status for m in await store.messages.for_family("F2")}
    assert messages == {"SM-stop": "sent", "SM-bounce": "bounced"}  # a late receipt keeps it
    audit = [
        (a.provider_message_id, a.outcome, a.error_type) for a in await store.steps.for_family("F2")
    ]
    assert audit == [
        ("SM-stop", "opted out (STOP)", None),
        ("SM-bounce", "bounced (ignored: the run that sent it has finished)", "HardBounce"),
        ("SM-bounce", "delivered", None),
    ]


async def test_a_whatsapp_stop_opts_out_of_whatsapp_only(dev_client, store):
    await store.families.upsert("F2", "Okafor", whatsapp="+15550100102", whatsapp_opt_in=True)
    await store.messages.record(
        idempotency_key="intervention-x-F2/run/wa",
        family_id="F2",
        workflow_id="intervention-x-F2",
        step_id="hello",
        channel="whatsapp",
        provider="http-sms",
        provider_message_id="SM-wa",
        recipient="+15550100102",
        subject=None,
        body="hello",
    )
    app = create_receiver(dev_client, store, SECRET)
    async with receiver_client(app) as http:
        stop = await http.post(
            "/callbacks", **signed({"event": "replied", "message_id": "SM-wa", "text": "STOP"})
        )
    assert stop.status_code == 200 and stop.json()["action"] == "family opted out of whatsapp"
    family = await store.families.get("F2")
    assert family is not None and family.opted_out == ["whatsapp"]  # SMS and email stay open


def test_secret_is_required():
    from followthrough.web.receiver import receiver_secret

    with pytest.raises(SettingsError, match="RECEIVER_SECRET"):
        receiver_secret(Settings(receiver_secret="short"))
    assert receiver_secret(Settings(receiver_secret="x" * 16)) == b"x" * 16


async def first_message(store: Store, workflow_id: str, after: int = 0) -> Any:
    for _ in range(100):  # the first email goes out at once
        messages = await store.messages.for_workflow(workflow_id)
        if len(messages) > after and messages[after].provider_message_id:
            return messages[after]  # sent: not only its intent recorded
        await asyncio.sleep(0.1)
    raise AssertionError(f"{workflow_id} sent nothing")


async def test_a_late_callback_reaches_only_the_run_that_sent_it(
    dev_client, dev_worker, store, settings
):
    """A family's first sequence was called off and a second one started under the same id:
    a late reply to the first one's email is recorded, audited as ignored, and never told to
    the second one; a reply to the second one's email reaches it."""
    params = await store.templates.active("high_risk_intervention")
    assert params is not None
    params = params.model_copy(update={"quiet_hours": None})
    first = await start_sequence(dev_client, params, "F1", task_queue=settings.task_queue)
    assert first.handle is not None
    old = await first_message(store, first.handle.id)
    await first.handle.signal("cancel", CancelRequest(reason="family asked for a pause"))
    await first.handle.result()
    second = await start_sequence(dev_client, params, "F1", task_queue=settings.task_queue)
    assert second.handle is not None and second.handle.id == first.handle.id
    new = await first_message(store, second.handle.id, after=1)

    app = create_receiver(dev_client, store, SECRET)
    async with receiver_client(app) as http:
        late = {"event": "replied", "message_id": old.provider_message_id, "text": "Call me"}
        ignored = await http.post("/callbacks", **signed(late))
        assert ignored.status_code == 200, ignored.text
        assert ignored.json()["action"] == (
            "reply recorded; ignored: the run that sent it has finished"
        )
        status = await second.handle.query("status", result_type=InterventionStatus)
        assert status.responses == []  # the second run heard nothing of it

        reply = {"event": "replied", "message_id": new.provider_message_id, "text": "Hi"}
        told = await http.post("/callbacks", **signed(reply))
        assert told.json()["action"] == f"reply signalled to {second.handle.id}"
    result = await second.handle.result()
    assert result.outcome == "responded to outreach"
    callbacks = [
        (a.run_id, a.outcome)
        for a in await store.steps.for_workflow(second.handle.id)
        if a.kind == "callback"
    ]
    assert callbacks == [
        (first.handle.result_run_id, "replied (ignored: the run that sent it has finished)"),
        (second.handle.result_run_id, "replied"),
    ]
