"""With PAYLOAD_KEYS set, failures are encrypted too: no provider text or URL in plain history."""

from __future__ import annotations

import base64
import dataclasses
import ipaddress

import httpx
from temporalio.api.failure.v1 import Failure
from temporalio.client import Client
from temporalio.exceptions import ApplicationError

from contracts import InterventionStatus, SequenceParams
from followthrough.platform.codec import ENCODING, codec_from_keys, data_converter, parse_keys
from followthrough.platform.connection import connect
from followthrough.platform.settings import Settings
from followthrough.triggers.start import start_sequence
from tests.fake_provider import Answer, FakeProvider
from tests.followthrough.web.test_inbox import until
from worker import build_worker

KEYS = parse_keys("k1:" + base64.b64encode(b"1" * 32).decode())
SECRET_TEXT = "no mailbox for martinez@example.org"


async def test_a_failure_is_encoded_and_decoded_by_the_codec():
    converter = data_converter(codec_from_keys(KEYS))
    failure = Failure()
    await converter.encode_failure(
        ApplicationError(SECRET_TEXT, type="ProviderRejected", non_retryable=True), failure
    )
    assert failure.message == "Encoded failure"
    assert failure.encoded_attributes.metadata["encoding"] == ENCODING
    assert b"martinez" not in failure.SerializeToString()
    decoded = await converter.decode_failure(failure)
    assert isinstance(decoded, ApplicationError) and decoded.message == SECRET_TEXT


async def test_activity_failures_in_history_are_ciphertext(dev_server, store, settings):
    client = await connect(Settings(temporal_address=dev_server.address, payload_keys=KEYS))
    settings = dataclasses.replace(
        settings,
        webhook_allowed_hosts=("127.0.0.1",),
        webhook_private_networks=(ipaddress.ip_network("127.0.0.0/8"),),
    )
    with FakeProvider(Answer(404, {"error": SECRET_TEXT})).running() as fake:
        step = {"id": "ticket", "type": "webhook", "url": fake.url + "/t?family={{ family_id }}"}
        params = SequenceParams.model_validate(
            {"name": "failing_ticket", "quiet_hours": None, "caps": {}, "steps": [step]}
        )
        async with httpx.AsyncClient() as http, build_worker(client, store, http, settings):
            outcome = await start_sequence(client, params, "F1", task_queue=settings.task_queue)
            assert outcome.handle is not None
            handle = outcome.handle

            async def paused() -> InterventionStatus | None:
                status = await handle.query("status", result_type=InterventionStatus)
                return status if status.state.value == "paused" else None

            status = await until(paused, "the failed webhook escalated")
            # Through the codec, the failure reads as it was raised, trimmed to its status.
            assert status.steps[0].error == "WebhookRejected: webhook refused (404)"
            raw = Client(client.service_client, namespace=client.namespace)  # no codec
            failures = [
                event.activity_task_failed_event_attributes.failure
                async for event in raw.get_workflow_handle(handle.id).fetch_history_events()
                if event.HasField("activity_task_failed_event_attributes")
            ]
            await handle.terminate("test over")
    assert failures
    for failure in failures:
        assert failure.message == "Encoded failure"
        assert failure.encoded_attributes.metadata["encoding"] == ENCODING
        assert b"webhook refused" not in failure.SerializeToString()
