"""`followthrough receiver`: provider callbacks (delivered, bounced, replied, STOP) in, signals out.

Every request must carry `X-Followthrough-Timestamp` (Unix seconds) and
`X-Followthrough-Signature: sha256=<hex>`, the HMAC-SHA256 of `"<timestamp>." + body` under
the shared secret `RECEIVER_SECRET`. The headers are checked before the body is read: a
request without a well-formed, fresh signature is refused with 401, and one that declares a
body over `MAX_BODY_BYTES` with 413. The body is then read up to that limit (413 past it) and
its signature compared as bytes, so an unsigned, tampered, stale or oversized request can
neither signal nor write, and every refusal is one line.

- `replied` → the `record_response` signal on the run that sent the message (named by the
  message's key, workflow id / run id / step, kept with it in the outbox); a callback for a
  run that has finished reaches no newer run of the same id, and its audit row says so
- `stop` (or a reply that is only a STOP word) → the family is opted out of that channel
  only (its opt-out key in the channel registry)
- `bounced` → the message is marked bounced and the `record_bounce` signal tells the
  sequence, whose step then falls back; `delivered` → the message is marked delivered
Each writes one PII-free audit row; a provider's retry of the same callback does nothing twice.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import time
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from temporalio.client import Client

from contracts import Bounce, Channel, Response, channels
from contracts.callbacks import CallbackAnswer, ProviderCallback
from followthrough.platform import runs
from followthrough.platform.settings import Settings, SettingsError
from followthrough.templates import format_errors
from store import Store
from store.models import Message, StepExecution

SIGNATURE_HEADER = "X-Followthrough-Signature"
TIMESTAMP_HEADER = "X-Followthrough-Timestamp"
MAX_SKEW_SECONDS = 300
STOP_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"})
MIN_SECRET_LENGTH = 16
# Provider callbacks are a few hundred bytes; anything near this is not one.
MAX_BODY_BYTES = 64 * 1024
_SIGNATURE = re.compile(rb"^sha256=[0-9a-f]{64}$")

log = logging.getLogger(__name__)


def sign(secret: bytes, timestamp: str, body: bytes) -> str:
    """The signature header value for a body sent at `timestamp`."""
    digest = hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def check_headers(headers: Any, now: float | None = None) -> str | None:
    """None when the signature headers are present, well formed and fresh, else why not."""
    timestamp = headers.get(TIMESTAMP_HEADER)
    signature = headers.get(SIGNATURE_HEADER)
    if not timestamp or not signature:
        return "missing signature"
    try:
        sent = int(timestamp)
    except ValueError:
        return "bad timestamp"
    if abs((now if now is not None else time.time()) - sent) > MAX_SKEW_SECONDS:
        return "stale timestamp"
    if not _SIGNATURE.match(_raw(signature)):
        return "bad signature"
    return None


def verify(secret: bytes, headers: Any, body: bytes, now: float | None = None) -> str | None:
    """None when the request is authentic and fresh, else why not (never echoing secrets)."""
    refused = check_headers(headers, now)
    if refused is not None:
        return refused
    expected = sign(secret, headers[TIMESTAMP_HEADER], body).encode()
    # As bytes: a header that is not ASCII is a wrong signature, not a server error.
    if not hmac.compare_digest(_raw(headers[SIGNATURE_HEADER]), expected):
        return "bad signature"
    return None


def _raw(value: str) -> bytes:
    # HTTP header values arrive decoded as latin-1; this gives back the bytes that were sent.
    return value.encode("latin-1", errors="replace")


class BodyTooLarge(Exception):
    """A request body over the receiver's limit, declared or actual."""


async def read_limited(request: Request, limit: int = MAX_BODY_BYTES) -> bytes:
    """The request body, refused (`BodyTooLarge`) as soon as it passes `limit` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.strip().isdigit() and int(declared) > limit:
        raise BodyTooLarge
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise BodyTooLarge
    return bytes(body)


def receiver_secret(settings: Settings) -> bytes:
    """`RECEIVER_SECRET`, required and long enough to resist guessing."""
    value = settings.receiver_secret
    if len(value) < MIN_SECRET_LENGTH:
        raise SettingsError(
            f"RECEIVER_SECRET must be set to at least {MIN_SECRET_LENGTH} characters"
        )
    return value.encode()


def create_receiver(client: Client | None, store: Store, secret: bytes) -> FastAPI:
    """The callback endpoint `POST /callbacks`; `client` sends the signals."""
    app = FastAPI(title="Follow-through receiver", docs_url=None, redoc_url=None)

    def answer(status: int, action: str) -> JSONResponse:
        ok = status < 400
        return JSONResponse(CallbackAnswer(ok=ok, action=action).model_dump(), status_code=status)

    @app.post("/callbacks")
    async def callback(request: Request) -> JSONResponse:
        refused = check_headers(request.headers)
        if refused is None:
            try:
                body = await read_limited(request)
            except BodyTooLarge:
                log.warning("callback refused: body over %d bytes", MAX_BODY_BYTES)
                return answer(413, f"body: over {MAX_BODY_BYTES} bytes")
            refused = verify(secret, request.headers, body)
        if refused is not None:
            log.warning("callback refused: %s", refused)
            return answer(401, refused)
        try:
            event = ProviderCallback.model_validate(json.loads(body))
        except (ValueError, ValidationError) as err:
            why = format_errors(err) if isinstance(err, ValidationError) else "body is not JSON"
            return answer(400, why)
        message = await store.messages.get_by_provider_id(event.message_id)
        if message is None:
            return answer(404, f"message_id: no message {event.message_id!r}")
        kind = event.event
        if kind == "replied" and event.text.strip().upper() in STOP_WORDS:
            kind = "stop"
        if await store.steps.get_by_key(f"{message.idempotency_key}/{kind}") is not None:
            return answer(200, f"{kind}: already recorded")
        sent = await store.steps.get_by_key(message.idempotency_key)
        run_id = sent.run_id if sent is not None else _run_of(message)
        if kind == "replied":
            action = await _signal_reply(client, message, run_id, event.text)
        elif kind == "stop":
            # The channel's own opt-out: a STOP on one channel leaves the others open.
            key = channels.spec(message.channel).opt_out_key
            await store.families.opt_out(message.family_id, key)
            action = f"family opted out of {key}"
        else:
            if not (kind == "delivered" and message.status == "bounced"):
                await store.messages.set_status(message.id, kind)
            action = f"message marked {kind}"
            if kind == "bounced":
                action = await _signal_bounce(client, message, run_id, event.text)
        await _audit(store, message, kind, sent, run_id, action)
        return answer(200, action)

    return app


async def _signal_reply(client: Client | None, message: Message, run_id: str, text: str) -> str:
    response = Response(channel=Channel(message.channel), note=text)
    if not await _signal(client, message, run_id, "record_response", response):
        return f"reply recorded; {IGNORED}"
    return f"reply signalled to {message.workflow_id}"


async def _signal_bounce(client: Client | None, message: Message, run_id: str, reason: str) -> str:
    bounce = Bounce(channel=Channel(message.channel), step_id=message.step_id, reason=reason[:500])
    if not await _signal(client, message, run_id, "record_bounce", bounce):
        return f"message marked bounced; {IGNORED}"
    return f"message marked bounced; bounce signalled to {message.workflow_id}"


# A callback for a run that has ended is told to no one: a newer run under the same workflow
# id (the family's next sequence) did not send the message.
IGNORED = "ignored: the run that sent it has finished"


async def _signal(
    client: Client | None, message: Message, run_id: str, name: str, arg: Any
) -> bool:
    """Signal the run that sent `message` (or the run it continued as, the same sequence);
    False when that sequence has finished."""
    if client is None:
        raise RuntimeError("the receiver has no Temporal client")
    return await runs.signal_run(client, message.workflow_id, run_id, name, arg) is not None


def _run_of(message: Message) -> str:
    """The run in the message's key (`<workflow id>/<run id>/<step>`), for a message whose
    send wrote no audit row."""
    return message.idempotency_key.removeprefix(f"{message.workflow_id}/").split("/")[0]


async def _audit(
    store: Store,
    message: Message,
    kind: str,
    sent: StepExecution | None,
    run_id: str,
    action: str,
) -> None:
    # The send's own audit row (`sent`) names the template and prediction behind the message.
    await store.steps.record(
        idempotency_key=f"{message.idempotency_key}/{kind}",
        workflow_id=message.workflow_id,
        run_id=run_id,
        step_id=message.step_id,
        family_id=message.family_id,
        template=sent.template if sent else "",
        template_version=sent.template_version if sent else 0,
        prediction_id=sent.prediction_id if sent else None,
        kind="callback",
        channel=message.channel,
        provider_message_id=message.provider_message_id,
        attempts=1,
        outcome={"stop": "opted out (STOP)"}.get(kind, kind)
        + (f" ({IGNORED})" if action.endswith(IGNORED) else ""),
        error_type="HardBounce" if kind == "bounced" else None,
    )


async def serve(settings: Settings, host: str, port: int) -> None:
    """Run the receiver until Ctrl-C on its own client and store."""
    import uvicorn

    from followthrough.platform.connection import connect

    secret = receiver_secret(settings)
    client = await connect(settings)
    store = Store.from_url(settings.database_url)
    try:
        app = create_receiver(client, store, secret)
        server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="info"))
        await server.serve()
    finally:
        await store.close()
