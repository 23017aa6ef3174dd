"""Exactly once through the outbox: the intent before the provider call, the result after.

1. `claim`: under the family's row lock, the send's checks run (consent, frequency cap,
   address) and its intent is written under the step's idempotency key (`sending`).
2. The provider is called with that key.
3. `record`: the intent becomes `sent`, with the provider's message id and the audit row.
   A definite refusal (a non-retryable error, a 5xx or 429, an open circuit) marks it
   `failed` instead: it no longer counts for the cap, and nothing may have gone out.

A retry that finds `sent` returns the message (a duplicate, nothing sent). One that finds
`sending` knows an earlier attempt may have reached the provider (a crash, a timeout or a
store error between 2 and 3): a provider that honours `Idempotency-Key` gets the same key
again and answers from its own record; for one that does not, the template's `on_uncertain`
decides: `resend` sends again, `ask` (the default) fails the step with `SendUncertain`, and
the sequence asks a coordinator whether the message reached the family.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.audit import outcome_row
from activities.breaker import CIRCUIT_OPEN
from activities.providers import (
    OPTED_OUT,
    PROVIDER_THROTTLED,
    PROVIDER_UNAVAILABLE,
    Provider,
    honours_idempotency_key,
)
from contracts import SendRequest, SendResult
from store import Store
from store.audit import step_for
from store.models import Family, Message

SEND_UNCERTAIN = "SendUncertain"
"""The error type of a send that may have gone out, for a provider that cannot tell."""

# Transient errors that still say the provider did not take the message.
_NOT_TAKEN = frozenset({PROVIDER_UNAVAILABLE, PROVIDER_THROTTLED, CIRCUIT_OPEN})

Build = Callable[[Family | None, int], Message]
"""Makes the intent row from the family and the cap's count, or raises to refuse the send."""


async def send_once(
    store: Store,
    provider: Provider,
    request: SendRequest,
    *,
    now: datetime,
    cap_window: Callable[[Family], tuple[datetime, datetime]] | None,
    build: Build,
    after_call: Callable[[], None] | None = None,
    wait_turn: Callable[[], Awaitable[None]] | None = None,
) -> SendResult:
    """Send `request` through `provider` at most once per idempotency key (see the module);
    `wait_turn` returns when the provider may be called (its rate, `activities.pacing`)."""
    key = request.ref.idempotency_key
    claim = await store.messages.claim(
        key,
        request.family_id,
        [outcome_row(row) for row in request.audits],
        channel=request.channel.value,
        cap_window=cap_window,
        build=build,
    )
    if claim.refusal is not None:
        raise claim.refusal
    intent = claim.message
    assert intent is not None
    if claim.state == "sent":
        return SendResult(
            message_id=intent.provider_message_id, provider=intent.provider, duplicate=True
        )
    if claim.state == "uncertain":
        _resend_or_ask(provider, request, claim.family)
    if wait_turn is not None:
        await wait_turn()
    message_id = await _call(store, provider, intent, key)
    if after_call is not None:
        after_call()  # the fault hook of the tests: a crash between the call and the record
    return await _record(store, provider, request, intent, message_id, now)


async def _record(
    store: Store,
    provider: Provider,
    request: SendRequest,
    intent: Message,
    message_id: str,
    now: datetime,
) -> SendResult:
    """The provider took it: the intent becomes the sent message, with its audit row."""
    key = request.ref.idempotency_key
    attempt = activity.info().attempt
    message, created = await store.messages.record(
        idempotency_key=key,
        family_id=intent.family_id,
        workflow_id=request.ref.workflow_id,
        step_id=request.ref.step_id,
        channel=request.channel.value,
        provider=provider.name,
        provider_message_id=message_id,
        recipient=intent.recipient,
        subject=intent.subject,
        body=intent.body,
        sent_at=now,  # the sequence's clock, as the intent's
        audit=step_for(
            request.ref,
            key=key,
            family_id=intent.family_id,
            kind=request.channel.value,
            channel=request.channel.value,
            provider_message_id=message_id,
            outcome="sent",
            attempts=attempt,
        ),
    )
    return SendResult(
        message_id=message.provider_message_id,
        provider=provider.name,
        duplicate=not created,
        attempts=attempt,
    )


def _resend_or_ask(provider: Provider, request: SendRequest, family: Family | None) -> None:
    """An earlier attempt may have reached the provider: go on with the same key, or ask."""
    channel = request.channel.value
    if family is not None and channel in (family.opted_out or []):
        raise ApplicationError(f"family opted out of {channel}", type=OPTED_OUT, non_retryable=True)
    if honours_idempotency_key(provider) or request.on_uncertain == "resend":
        return
    label = "SMS" if channel == "sms" else channel
    raise ApplicationError(
        f"did this {label} reach the family? An earlier attempt called {provider.name} and "
        f"stopped before recording its answer, and {provider.name} does not honour "
        "Idempotency-Key. Answer skip if it arrived (the step counts as sent), resume to "
        "send it again",
        {"attempts": activity.info().attempt, "idempotency_key": request.ref.idempotency_key},
        type=SEND_UNCERTAIN,
        non_retryable=True,
    )


async def _call(store: Store, provider: Provider, intent: Message, key: str) -> str:
    """The provider's message id; a definite refusal releases the intent first."""
    try:
        return await provider.send(
            recipient=intent.recipient,
            subject=intent.subject,
            body=intent.body,
            idempotency_key=key,
        )
    except ApplicationError as err:
        if err.non_retryable or err.type in _NOT_TAKEN:
            await store.messages.release(key)
        # The same error, plus the attempt it ended on: the workflow's escalation
        # diagnostics report how often the provider was tried.
        raise ApplicationError(
            err.message,
            {"attempts": activity.info().attempt},
            type=err.type,
            non_retryable=err.non_retryable,
            next_retry_delay=err.next_retry_delay,
        ) from err
