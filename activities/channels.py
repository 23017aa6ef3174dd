"""Sending messages: one activity per message channel of the registry, idempotent through
the outbox. Each activity sends its own channel only: a request for another is refused."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.audit import outcome_row
from activities.consent import cap_window
from activities.providers import INVALID_RECIPIENT, OPTED_OUT, Provider
from activities.rendering import RenderError, render
from contracts import Channel, SendRequest, SendResult, channels
from store import Store
from store.audit import step_for
from store.models import Family as FamilyRow

FREQUENCY_CAPPED = "FrequencyCapped"
"""The error type of a send refused by its cap; its details: `{"next_slot": ISO time}`."""


WRONG_CHANNEL = "WrongChannel"
"""The error type of a request sent to another channel's activity."""


class ChannelActivities:
    """One send per message channel; each records its outbox row and audit row once per step."""

    def __init__(self, store: Store, providers: dict[Channel, Provider]) -> None:
        self._store = store
        self._providers = providers

    def activities(self) -> list[Callable[..., Any]]:
        """The send activity of every message channel of the registry, for the worker."""
        return [getattr(self, entry.activity or "") for entry in channels.message_channels()]

    @activity.defn
    async def send_email(self, request: SendRequest) -> SendResult:
        """Send one email for a step; a repeat of the same step sends nothing."""
        return await self._send(Channel.EMAIL, request)

    @activity.defn
    async def send_sms(self, request: SendRequest) -> SendResult:
        """Send one SMS for a step; a repeat of the same step sends nothing."""
        return await self._send(Channel.SMS, request)

    @activity.defn
    async def send_whatsapp(self, request: SendRequest) -> SendResult:
        """Send one WhatsApp message for a step; a repeat of the same step sends nothing."""
        return await self._send(Channel.WHATSAPP, request)

    async def _send(self, own: Channel, request: SendRequest) -> SendResult:
        provider = _provider_for(own, request, self._providers)
        key = request.ref.idempotency_key
        channel, cap = request.channel, request.cap
        # The sequence's clock (which time-skipping moves), as the outbox's `sent_at` is.
        now = activity.info().current_attempt_scheduled_time
        # One store round trip: the rows this send carries, a message already sent (a
        # retry), the family, and what its frequency cap has counted so far.
        sent, family, sent_in_window = await self._store.messages.before_send(
            key,
            request.family_id,
            [outcome_row(row) for row in request.audits],
            channel=channel.value,
            cap_window=None if cap is None else lambda found: cap_window(now, found.timezone, cap),
        )
        if sent is not None:
            return SendResult(
                message_id=sent.provider_message_id, provider=sent.provider, duplicate=True
            )
        recipient = _recipient(request, family, sent_in_window, now)
        assert family is not None  # `_recipient` refuses an unknown family
        subject, body = _rendered(request, family)
        message_id = await _provider_send(provider, recipient, subject, body, key)
        message, created = await self._store.messages.record(
            idempotency_key=key,
            family_id=family.family_id,
            workflow_id=request.ref.workflow_id,
            step_id=request.ref.step_id,
            channel=channel.value,
            provider=provider.name,
            provider_message_id=message_id,
            recipient=recipient,
            subject=subject,
            body=body,
            # When the sequence sent it (the server's clock, which time-skipping moves), not
            # the wall clock: frequency caps count the family's messages by this time.
            sent_at=now,
            # The audit row in the same transaction: one store round trip after the send.
            audit=step_for(
                request.ref,
                key=key,
                family_id=family.family_id,
                kind=channel.value,
                channel=channel.value,
                provider_message_id=message_id,
                outcome="sent",
                attempts=activity.info().attempt,
            ),
        )
        return SendResult(
            message_id=message.provider_message_id,
            provider=provider.name,
            duplicate=not created,
            attempts=activity.info().attempt,
        )


def _provider_for(
    own: Channel, request: SendRequest, providers: dict[Channel, Provider]
) -> Provider:
    """The provider of this activity's channel; a request for another channel is refused."""
    if request.channel != own:
        raise ApplicationError(
            f"the {own.value} send was asked to send {request.channel.value}: refused",
            type=WRONG_CHANNEL,
            non_retryable=True,
        )
    provider = providers.get(own)
    if provider is None:
        raise ApplicationError(
            f"no provider is set up for {own.value}", type=WRONG_CHANNEL, non_retryable=True
        )
    return provider


def _recipient(
    request: SendRequest, family: FamilyRow | None, sent_in_window: int, now: datetime
) -> str:
    """The address to send to; a business error when the family cannot be sent to now."""
    channel, cap = request.channel, request.cap
    entry = channels.spec(channel)
    if family is None:
        raise ApplicationError(
            f"unknown family {request.family_id}", type="UnknownFamily", non_retryable=True
        )
    if entry.opt_out_key in (family.opted_out or []):
        raise ApplicationError(
            f"family opted out of {channel.value}", type=OPTED_OUT, non_retryable=True
        )
    if cap is not None and sent_in_window >= cap.limit:
        _, end = cap_window(now, family.timezone, cap)
        raise ApplicationError(
            f"frequency cap: {cap.describe()} by {channel.value}",
            {"next_slot": end.isoformat()},
            type=FREQUENCY_CAPPED,
            non_retryable=True,
        )
    if entry.opt_in is not None and not getattr(family, entry.opt_in, False):
        raise ApplicationError(
            f"family has not opted in to {entry.label}", type=INVALID_RECIPIENT, non_retryable=True
        )
    recipient = getattr(family, entry.address, None)
    if not recipient:
        raise ApplicationError(
            f"family has no {channel.value} address", type=INVALID_RECIPIENT, non_retryable=True
        )
    return str(recipient)


def _rendered(request: SendRequest, family: FamilyRow) -> tuple[str | None, str]:
    """The message's subject and body for this family."""
    context = {
        **(family.attributes or {}),
        "family_name": family.name,
        "first_name": family.name.split()[0] if family.name else "",
        "family_id": family.family_id,
    }
    try:
        return render(request.message, context)
    except RenderError as err:
        raise ApplicationError(
            f"message '{request.template_name}' cannot be rendered: {err}",
            type="TemplateError",
            non_retryable=True,
        ) from err


async def _provider_send(
    provider: Provider, recipient: str, subject: str | None, body: str, key: str
) -> str:
    """The provider's message id; a failure carries the attempt it ended on."""
    try:
        return await provider.send(
            recipient=recipient, subject=subject, body=body, idempotency_key=key
        )
    except ApplicationError as err:
        # The same error, plus the attempt it ended on: the workflow's escalation
        # diagnostics report how often the provider was tried.
        raise ApplicationError(
            err.message,
            {"attempts": activity.info().attempt},
            type=err.type,
            non_retryable=err.non_retryable,
            next_retry_delay=err.next_retry_delay,
        ) from err
