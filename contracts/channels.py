"""The channel registry: everything the product knows about a channel, in one place.

Validation, the sequences, the send activities, fallbacks, the receiver's STOP handling, the
dry run, stats and the web pages read a channel's facts from here; adding a channel is a
member of `Channel`, one `ChannelSpec` below and, for a message channel, its provider.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import time, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict

from contracts.caps import FrequencyCap
from contracts.policies import Channel, RetrySpec
from contracts.windows import SendWindow

# Provider rate limits. A message channel's sends go through a task queue of their own
# (`ChannelSpec.send_queue`), whose workers ask Temporal to dispatch at most the deployer's
# rate (`ChannelSpec.rate_variable`, e.g. EMAIL_RATE_PER_SECOND) for every worker together.
# The slowest rate a deployer may set, and the most sends we design for waiting in one
# channel's queue at once (a burst of first emails): together they bound the wait in the queue
# that `send_timeout` allows for.
MIN_RATE_PER_SECOND = 0.1
QUEUED_SENDS_BOUND = 10_000


class ChannelSpec(BaseModel):
    """One channel: how it is sent, to which family field, under which consent and limits."""

    model_config = ConfigDict(frozen=True)

    channel: Channel
    label: str  # as a person reads it: "email", "SMS"
    # A message goes out through `activity`; a task asks a person (a coordinator) to act.
    kind: Literal["message", "task"]
    activity: str | None  # the send activity's name; None for a task
    address: str  # the family's field holding the address (email, phone number)
    address_label: str  # that field as a person reads it: "email address", "phone number"
    # A family field that must be true before anything is sent (an explicit opt-in).
    opt_in: str | None = None
    # The entry a STOP or an opt-out adds to the family's `opted_out` list.
    opt_out_key: str
    subject: bool = False  # whether a message has a subject line
    # Where a fallback that went out on this channel falls back in turn, unless the
    # template's `fallbacks` says otherwise.
    next_fallback: Channel | None = None
    cap: FrequencyCap | None = None  # the default frequency cap per family
    send_window: SendWindow | None = None  # the default local send window

    @property
    def is_message(self) -> bool:
        return self.kind == "message"

    @property
    def rate_variable(self) -> str:
        """The setting that holds the provider's rate for this channel: `EMAIL_RATE_PER_SECOND`."""
        return f"{self.channel.value.upper()}_RATE_PER_SECOND"

    def send_queue(self, task_queue: str) -> str:
        """The task queue of this channel's sends for sequences on `task_queue`:
        `interventions-email`. Derived from the sequence's own queue, so a test or a bench on
        a queue of its own gets send queues of its own."""
        return f"{task_queue}-{self.channel.value}"


CHANNELS: dict[Channel, ChannelSpec] = {
    Channel.EMAIL: ChannelSpec(
        channel=Channel.EMAIL,
        label="email",
        kind="message",
        activity="send_email",
        address="email",
        address_label="email address",
        opt_out_key="email",
        subject=True,
        cap=FrequencyCap(limit=3, per="week"),
    ),
    Channel.SMS: ChannelSpec(
        channel=Channel.SMS,
        label="SMS",
        kind="message",
        activity="send_sms",
        address="phone",
        address_label="phone number",
        opt_out_key="sms",
        next_fallback=Channel.CALL,
        cap=FrequencyCap(limit=1, per="day"),
    ),
    Channel.WHATSAPP: ChannelSpec(
        channel=Channel.WHATSAPP,
        label="WhatsApp",
        kind="message",
        activity="send_whatsapp",
        address="whatsapp",
        address_label="WhatsApp number",
        # Sent only to a family that said yes to WhatsApp; without it, as with no number.
        opt_in="whatsapp_opt_in",
        opt_out_key="whatsapp",
        cap=FrequencyCap(limit=2, per="week"),
        send_window=SendWindow(start=time(9, 0), end=time(19, 0)),
    ),
    Channel.CALL: ChannelSpec(
        channel=Channel.CALL,
        label="call",
        kind="task",
        activity=None,
        address="phone",
        address_label="phone number",
        opt_out_key="call",
    ),
}


def spec(channel: Channel | str) -> ChannelSpec:
    """The registry entry of `channel`; a `ValueError` naming the known ones otherwise."""
    found = find(channel)
    if found is None:
        raise ValueError(f"unknown channel {str(channel)!r} (use one of {', '.join(names())})")
    return found


def find(name: object) -> ChannelSpec | None:
    """The registry entry named `name`, or None when it names no channel."""
    if isinstance(name, Channel):
        return CHANNELS.get(name)
    if isinstance(name, str) and name in Channel._value2member_map_:
        return CHANNELS.get(Channel(name))
    return None


def names() -> list[str]:
    """Every channel's name, in registry order."""
    return [channel.value for channel in CHANNELS]


def message_channels() -> list[ChannelSpec]:
    """The channels that send a message through an activity."""
    return [entry for entry in CHANNELS.values() if entry.is_message]


def send_timeout(retry: RetrySpec) -> timedelta:
    """A send's schedule-to-close timeout: long enough for every attempt to wait its turn.

    A send may wait in its channel's rate-limited queue before it starts, and each retry goes
    back to the end of that queue. The workflow cannot read the deployer's rate (it is the
    workers' setting, and workflow code reads no environment), so it assumes the slowest rate
    the settings accept: `QUEUED_SENDS_BOUND / MIN_RATE_PER_SECOND` (100,000 s, about 28 hours)
    of waiting per attempt, plus the attempt itself and the backoff before the next. With the
    default retry (3 attempts of 30 s) that is about 83 hours. Only a queue no worker serves
    (or a backlog past the bound) gets that far; the send then fails as a timeout and falls
    back or goes to a person, as any failed send does. Nothing waits forever unnoticed.
    """
    queue_wait = timedelta(seconds=QUEUED_SENDS_BOUND / MIN_RATE_PER_SECOND)
    total = retry.max_attempts * (queue_wait + retry.attempt_timeout)
    interval = min(retry.initial_interval, retry.max_interval)
    for _ in range(retry.max_attempts - 1):
        total += interval
        interval = min(interval * retry.backoff, retry.max_interval)
    return total


def default_caps() -> dict[Channel, FrequencyCap]:
    """The frequency caps a template has unless it sets `caps`."""
    return {c: entry.cap for c, entry in CHANNELS.items() if entry.cap is not None}


def send_window(channel: Channel, windows: Mapping[Channel, SendWindow]) -> SendWindow | None:
    """The template's window for `channel`, else the channel's default."""
    return windows.get(channel) or spec(channel).send_window


def next_fallback(channel: Channel, overrides: Mapping[Channel, Channel | None]) -> Channel | None:
    """Where a fallback that went out on `channel` falls back in turn."""
    if channel in overrides:
        return overrides[channel]
    return spec(channel).next_fallback


def fallback_chain(
    first: Channel, overrides: Mapping[Channel, Channel | None], *, after: Channel | None = None
) -> list[Channel]:
    """`after` (a step's own channel, when given), then `first` and every channel it falls
    back to in turn; a channel met twice ends the list there (the loop is the caller's to
    refuse)."""
    chain = [] if after is None else [after]
    current: Channel | None = first
    while current is not None:
        chain.append(current)
        if chain.count(current) > 1:
            break
        current = next_fallback(current, overrides)
    return chain


def loops(chain: Iterable[Channel]) -> bool:
    """Whether a chain from `fallback_chain` came back to a channel it had already tried."""
    seen = list(chain)
    return len(seen) != len(set(seen))
