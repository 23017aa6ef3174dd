"""Sending messages: one activity per message channel of the registry, exactly once through
the outbox (`activities.delivery`: the intent before the provider call, the result after).
Each activity sends its own channel only: a request for another is refused."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.consent import cap_window
from activities.delivery import send_once
from activities.pacing import Pacer
from activities.providers import INVALID_RECIPIENT, OPTED_OUT, Provider
from activities.rendering import RenderError, render
from contracts import Channel, SendRequest, SendResult, channels
from store import Store
from store.models import Family as FamilyRow
from store.models import Message

FREQUENCY_CAPPED = "FrequencyCapped"
"""The error type of a send refused by its cap; its details: `{"next_slot": ISO time}`."""


WRONG_CHANNEL = "WrongChannel"
"""The error type of a request sent to another channel's activity."""

OUTSIDE_HOURS = "OutsideAllowedHours"
"""The error type of a send that started after its `send_by` (it waited in its channel's
rate-limited queue past the allowed hours it was placed in): the sequence places it again."""


class ChannelActivities:
    """One send per message channel; each records its outbox row and audit row once per step."""

    def __init__(
        self,
        store: Store,
        providers: dict[Channel, Provider],
        *,
        after_call: Callable[[], None] | None = None,
        rates: Mapping[Channel, float] | None = None,
    ) -> None:
        self._store = store
        self._providers = providers
        # Each provider call of a channel with a rate waits for its turn (`activities.pacing`).
        self._pacer = Pacer(store, rates or {})
        # A fault hook for tests (`Settings.fault_kill_after_send`): runs after the provider
        # answered and before the answer is recorded.
        self._after_call = after_call

    def activities(self) -> list[Callable[..., Any]]:
        """The send activity of every message channel of the registry, for the worker."""
        return list(self.by_channel().values())

    def by_channel(self) -> dict[Channel, Callable[..., Any]]:
        """Each message channel's send activity, for the worker of its send queue."""
        return {
            entry.channel: getattr(self, entry.activity or "")
            for entry in channels.message_channels()
        }

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
        channel, cap = request.channel, request.cap
        # When this attempt started, on the server's clock (which time-skipping moves): after
        # any wait in the channel's queue, so the outbox's time is when the send went out.
        now = activity.info().started_time
        provider = _provider_for(own, request, self._providers)

        def intent(family: FamilyRow | None, sent_in_window: int) -> Message:
            # Checked at the last moment, under the family's row lock: the allowed hours (the
            # send may have waited in its channel's queue), consent (a STOP that came in after
            # the sequence decided to send), the cap, the address.
            _check_hours(request, now)
            recipient = _recipient(request, family, sent_in_window, now)
            assert family is not None  # `_recipient` refuses an unknown family
            subject, body = _rendered(request, family)
            return Message(
                idempotency_key=request.ref.idempotency_key,
                family_id=family.family_id,
                workflow_id=request.ref.workflow_id,
                step_id=request.ref.step_id,
                channel=channel.value,
                provider=provider.name,
                provider_message_id="",  # the provider's answer comes after
                recipient=recipient,
                subject=subject,
                body=body,
                # When the sequence sent it, not the wall clock: caps count by this time.
                created_at=now,
            )

        return await send_once(
            self._store,
            provider,
            request,
            now=now,
            cap_window=None if cap is None else lambda found: cap_window(now, found.timezone, cap),
            build=intent,
            after_call=self._after_call,
            wait_turn=lambda: self._pacer.wait_turn(channel),
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


def _check_hours(request: SendRequest, now: datetime) -> None:
    """Refuse a send that starts after the allowed hours it was placed in have ended."""
    if request.send_by is not None and now >= request.send_by:
        raise ApplicationError(
            f"the {request.channel.value} send started at {now.isoformat(timespec='seconds')}, "
            "outside the allowed hours it was placed in (they ended at "
            f"{request.send_by.isoformat(timespec='seconds')}): not sent",
            type=OUTSIDE_HOURS,
            non_retryable=True,
        )


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
