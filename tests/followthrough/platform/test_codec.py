"""Payload encryption (the codec and the converter) and no PII in what Temporal indexes or shows."""

from __future__ import annotations

import base64

import httpx
import pytest
from temporalio.api.common.v1 import Payload
from temporalio.client import Client

from contracts import Channel, InterventionResult, Response
from followthrough.platform.codec import ENCODING, CodecError, codec_from_keys, parse_keys
from followthrough.platform.connection import connect
from followthrough.platform.settings import Settings
from followthrough.triggers.start import start_sequence
from tests.followthrough.web.test_inbox import start_quick, until
from worker import build_worker
from workflows.search_attributes import TEMPLATE_NAME

K1 = base64.b64encode(b"1" * 32).decode()
K2 = base64.b64encode(b"2" * 32).decode()


def plain(text: str) -> Payload:
    return Payload(metadata={"encoding": b"json/plain"}, data=text.encode())


async def test_round_trip_and_rotation():
    old = codec_from_keys(parse_keys(f"k1:{K1}"))
    new = codec_from_keys(parse_keys(f"k2:{K2}, k1:{K1}"))
    assert old is not None and new is not None and new.current == "k2"
    (sealed,) = await old.encode([plain('"Martinez"')])
    assert sealed.metadata["encoding"] == ENCODING and b"Martinez" not in sealed.data
    # After rotation the new codec still reads what the old key wrote, and writes with k2.
    assert (await new.decode([sealed]))[0] == plain('"Martinez"')
    (resealed,) = await new.encode([plain("1")])
    assert resealed.metadata["encryption-key-id"] == b"k2"
    with pytest.raises(CodecError, match="unknown key id 'k2'"):
        await old.decode([resealed])
    tampered = Payload(metadata=dict(sealed.metadata), data=sealed.data[:-1] + b"x")
    with pytest.raises(CodecError, match="failed authentication"):
        await new.decode([tampered])
    assert (await new.decode([plain("2")]))[0] == plain("2")  # unencrypted passes through
    assert codec_from_keys({}) is None


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("k1", "PAYLOAD_KEYS: entry 1: expected id:base64key"),
        ("k1:%%%", "PAYLOAD_KEYS: key 'k1': not base64"),
        (f"k1:{base64.b64encode(b'short').decode()}", "must be 16, 24 or 32 bytes, not 5"),
        (f"k1:{K1},k1:{K2}", "key id 'k1' is listed twice"),
    ],
)
def test_bad_keys_name_the_problem(value, message):
    with pytest.raises(CodecError) as err:
        parse_keys(value)
    assert message in str(err.value)


async def test_history_is_encrypted(dev_server, store, settings):
    keys = parse_keys(f"k1:{K1}")
    client = await connect(Settings(temporal_address=dev_server.address, payload_keys=keys))
    params = await store.templates.active("high_risk_intervention")
    assert params is not None
    params = params.model_copy(update={"quiet_hours": None, "urgent": True})
    async with httpx.AsyncClient() as http, build_worker(client, store, http, settings):
        outcome = await start_sequence(client, params, "F1", task_queue=settings.task_queue)
        assert outcome.handle is not None
        await outcome.handle.signal("record_response", Response(channel=Channel.EMAIL))
        handle = client.get_workflow_handle(outcome.handle.id, result_type=InterventionResult)
        assert (await handle.result()).outcome == "responded to outreach"

        raw = Client(client.service_client, namespace=client.namespace)  # no codec
        payloads = []
        async for event in raw.get_workflow_handle(handle.id).fetch_history_events():
            for field in (
                "workflow_execution_started_event_attributes",
                "activity_task_scheduled_event_attributes",
                "workflow_execution_signaled_event_attributes",
                "workflow_execution_completed_event_attributes",
            ):
                if event.HasField(field):
                    attrs = getattr(event, field)
                    holder = attrs.result if "completed" in field else attrs.input
                    payloads += list(holder.payloads)
    assert len(payloads) >= 4
    assert all(p.metadata["encoding"] == ENCODING for p in payloads)
    # Long markers only: a two-byte id could turn up in random ciphertext by chance.
    assert not any(b"high_risk_intervention" in p.data or b"family_id" in p.data for p in payloads)


async def test_no_pii_in_ids_search_attributes_or_memos(dev_client, dev_worker, store, settings):
    """Names, emails and phones from the store never reach what Temporal indexes or lists."""
    workflow_ids = [await start_quick(dev_client, store, settings, f) for f in ("F1", "F3")]
    pii = []
    for family in await store.families.list():
        pii += [v for v in (family.name, family.email, family.phone) if v]
    assert len(pii) >= 7

    async def at_gate() -> bool:
        rows = [e async for e in dev_client.list_workflows(f"TaskQueue = '{settings.task_queue}'")]
        return len(rows) == 2 and all(r.typed_search_attributes.get(TEMPLATE_NAME) for r in rows)

    await until(at_gate, "both sequences visible")
    for workflow_id in workflow_ids:
        handle = dev_client.get_workflow_handle(workflow_id)
        described = await handle.describe()
        raw = described.raw_description
        exposed = [
            workflow_id,
            str(described.search_attributes),
            str(await described.memo()),
            str(raw.workflow_execution_info.search_attributes),
            str(raw.workflow_execution_info.memo),
            await described.static_summary() or "",
            await described.static_details() or "",
        ]
        async for event in handle.fetch_history_events():
            if event.HasField("upsert_workflow_search_attributes_event_attributes"):
                exposed.append(str(event.upsert_workflow_search_attributes_event_attributes))
            exposed.append(event.user_metadata.summary.data.decode(errors="replace"))
        text = "\n".join(exposed).lower()
        leaked = [value for value in pii if value.lower() in text]
        assert leaked == [], f"{workflow_id} exposes {leaked}"
        await handle.terminate("test over")
