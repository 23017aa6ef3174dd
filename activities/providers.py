"""Channel providers: the embedded outbox and HTTP APIs over one shared httpx client.

Every provider error is classified here, where the status code is known: permanent
failures raise a non-retryable `ApplicationError` with a stable type name (the workflow
falls back or escalates); transient ones raise a retryable one, honouring `Retry-After`.
"""

from __future__ import annotations

import hashlib
import math
import re
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Protocol

import httpx
from temporalio.exceptions import ApplicationError

# Stable error type names; the workflow's retry policy lists the permanent ones.
INVALID_RECIPIENT = "InvalidRecipient"
HARD_BOUNCE = "HardBounce"
OPTED_OUT = "OptedOut"
PROVIDER_REJECTED = "ProviderRejected"
PROVIDER_UNAVAILABLE = "ProviderUnavailable"
PROVIDER_THROTTLED = "ProviderThrottled"
PROVIDER_UNREACHABLE = "ProviderUnreachable"
# An error code worth keeping: a short token, never free text that could quote a person.
_CODE = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,39}$")
# The longest a provider's `Retry-After` holds a send back; past it, the template's retry
# policy decides (a header of `inf` or a date years ahead would otherwise never retry).
RETRY_AFTER_MAX = timedelta(hours=1)


class Provider(Protocol):
    """Delivers one message; returns the provider's message id."""

    name: str
    # A provider may say `idempotent = True`: it accepts a message once per
    # `Idempotency-Key` and answers a repeat from its record (`honours_idempotency_key`).

    async def send(
        self, *, recipient: str, subject: str | None, body: str, idempotency_key: str
    ) -> str: ...


def honours_idempotency_key(provider: Provider) -> bool:
    """Whether a repeat of a key is answered from the provider's record (False if unsaid)."""
    return bool(getattr(provider, "idempotent", False))


class OutboxProvider:
    """The embedded default: the message is only recorded in the store's outbox."""

    name = "outbox"
    idempotent = True  # nothing leaves the process: the id is the key's hash

    async def send(
        self, *, recipient: str, subject: str | None, body: str, idempotency_key: str
    ) -> str:
        return "outbox-" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:16]


class HttpEmailProvider:
    """A Postmark-style JSON email API authenticated with a server token."""

    name = "http-email"

    def __init__(
        self,
        client: httpx.AsyncClient,
        url: str,
        token: str,
        sender: str,
        *,
        idempotent: bool = False,
    ) -> None:
        self._client, self._url, self._token, self._sender = client, url, token, sender
        self.idempotent = idempotent  # EMAIL_API_IDEMPOTENT: the API honours Idempotency-Key

    async def send(
        self, *, recipient: str, subject: str | None, body: str, idempotency_key: str
    ) -> str:
        response = await _call(
            self._client.post,
            self._url,
            json={
                "From": self._sender,
                "To": recipient,
                "Subject": subject or "",
                "TextBody": body,
            },
            headers={
                "X-Postmark-Server-Token": self._token,
                "Accept": "application/json",
                "Idempotency-Key": idempotency_key,
            },
        )
        return str(_json(response).get("MessageID") or response.headers.get("X-Message-Id", ""))


class HttpSmsProvider:
    """A Twilio-style SMS API: form post, basic auth with account SID and token."""

    name = "http-sms"

    def __init__(
        self, client: httpx.AsyncClient, url: str, sid: str, token: str, *, idempotent: bool = False
    ) -> None:
        self._client, self._url, self._auth = client, url, httpx.BasicAuth(sid, token)
        self.idempotent = idempotent  # SMS_API_IDEMPOTENT: the API honours Idempotency-Key

    async def send(
        self, *, recipient: str, subject: str | None, body: str, idempotency_key: str
    ) -> str:
        response = await _call(
            self._client.post,
            self._url,
            data={"To": recipient, "Body": body},
            auth=self._auth,
            headers={"Idempotency-Key": idempotency_key},
        )
        return str(_json(response).get("sid", ""))


class WhatsAppProvider:
    """WhatsApp through the Twilio-compatible messages API the SMS provider speaks: the same
    call with `To: whatsapp:+…` (its breaker too: one API, up or down together)."""

    def __init__(self, messages: Provider) -> None:
        self._messages = messages
        self.name = messages.name

    async def send(
        self, *, recipient: str, subject: str | None, body: str, idempotency_key: str
    ) -> str:
        return await self._messages.send(
            recipient=f"whatsapp:{recipient}",
            subject=None,
            body=body,
            idempotency_key=idempotency_key,
        )


async def _call(method: object, url: str, **kwargs: object) -> httpx.Response:
    try:
        response: httpx.Response = await method(url, **kwargs)  # type: ignore[operator]
    except httpx.TimeoutException as err:
        raise ApplicationError(
            f"provider timed out: {type(err).__name__}", type=PROVIDER_UNREACHABLE
        ) from err
    except httpx.TransportError as err:
        raise ApplicationError(
            f"provider unreachable: {type(err).__name__}", type=PROVIDER_UNREACHABLE
        ) from err
    classify(response)
    return response


def _json(response: httpx.Response) -> dict[str, object]:
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def classify(response: httpx.Response) -> None:
    """Raise the right `ApplicationError` for a failed response; return for 2xx."""
    status = response.status_code
    if 200 <= status < 300:
        return
    text = response.text[:300]
    if status == 429:
        raise ApplicationError(
            "provider throttled (429)",
            type=PROVIDER_THROTTLED,
            next_retry_delay=retry_after(response),
        )
    if status >= 500 or status in (408, 409):
        raise ApplicationError(
            f"provider error {diagnosis(response)}",
            type=PROVIDER_UNAVAILABLE,
            next_retry_delay=retry_after(response),
        )
    lowered = text.lower()
    code = _error_code(response)
    if code in _KNOWN_CODES:
        kind = _KNOWN_CODES[code]
    elif "bounce" in lowered or "inactive" in lowered:
        kind = HARD_BOUNCE
    elif "unsubscribed" in lowered or "opted out" in lowered or "stop" in lowered.split():
        kind = OPTED_OUT
    elif "recipient" in lowered or "address" in lowered or "number" in lowered:
        kind = INVALID_RECIPIENT
    else:
        kind = PROVIDER_REJECTED
    # The status and the provider's error code: its text may quote the address or the message.
    raise ApplicationError(
        f"provider refused ({diagnosis(response)})", type=kind, non_retryable=True
    )


def diagnosis(response: httpx.Response) -> str:
    """What a failure message keeps of an answer: the status, and a short error code if any."""
    data = _json(response)
    for name in ("ErrorCode", "code", "error_code", "error"):
        code = data.get(name)
        if isinstance(code, int) and not isinstance(code, bool):
            return f"{response.status_code}, {name} {code}"
        if isinstance(code, str) and _CODE.match(code):
            return f"{response.status_code}, {name} {code}"
    return str(response.status_code)


def retry_after(response: httpx.Response) -> timedelta | None:
    """`Retry-After` as seconds or as an HTTP date, at most `RETRY_AFTER_MAX`; None when
    absent or unreadable (`NaN` included). `inf` or a date years ahead waits the most."""
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        if math.isnan(seconds):
            return None
        return timedelta(seconds=min(max(0.0, seconds), RETRY_AFTER_MAX.total_seconds()))
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return min(max(timedelta(0), when - datetime.now(UTC)), RETRY_AFTER_MAX)


# Documented error codes of the two API styles, more precise than reading the message:
# Postmark's `ErrorCode` (406: inactive recipient) and Twilio's `code`
# (21211/21614 invalid or non-mobile number, 21610 the recipient replied STOP).
_KNOWN_CODES = {
    406: HARD_BOUNCE,
    21211: INVALID_RECIPIENT,
    21614: INVALID_RECIPIENT,
    21610: OPTED_OUT,
}


def _error_code(response: httpx.Response) -> int | None:
    data = _json(response)
    code = data.get("ErrorCode", data.get("code"))
    return code if isinstance(code, int) and not isinstance(code, bool) else None
