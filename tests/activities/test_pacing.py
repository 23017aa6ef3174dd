"""Each provider call of a channel with a rate waits for a slot one `1 / rate` after the
previous one, whichever worker took it."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import pytest

from activities import pacing
from activities.pacing import Pacer
from contracts import Channel
from store import Store
from store.models import utcnow


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The waits the pacer asks for, none of them slept."""
    asked: list[float] = []

    async def sleep(seconds: float) -> None:
        asked.append(seconds)

    monkeypatch.setattr(pacing.asyncio, "sleep", sleep)
    return asked


async def test_calls_wait_one_spacing_after_another(store: Store, waits: list[float]) -> None:
    pacer = Pacer(store, {Channel.EMAIL: 0.5})  # one every 2 s
    await asyncio.gather(*(pacer.wait_turn(Channel.EMAIL) for _ in range(4)))
    # The first goes at once; each other one waits for its slot, 2 s after the one before.
    assert sorted(round(wait) for wait in waits) == [2, 4, 6]


async def test_a_channel_without_a_rate_goes_at_once(store: Store, waits: list[float]) -> None:
    await Pacer(store, {Channel.EMAIL: 0.5}).wait_turn(Channel.SMS)
    assert waits == []
    first = await store.pacing.take("sms", timedelta(seconds=2))
    assert await store.pacing.take("sms", timedelta(seconds=2)) == first + timedelta(seconds=2)


async def test_a_call_held_up_past_its_slot_takes_a_new_one(
    store: Store, waits: list[float], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its worker woke an hour late: it goes at a new slot, not together with the next call."""
    taken: list[datetime] = []
    take = store.pacing.take

    async def counted(channel: str, spacing: timedelta) -> datetime:
        taken.append(await take(channel, spacing))
        return taken[-1]

    monkeypatch.setattr(store.pacing, "take", counted)
    monkeypatch.setattr(pacing, "utcnow", lambda: utcnow() + timedelta(hours=1))
    await Pacer(store, {Channel.EMAIL: 1.0}).wait_turn(Channel.EMAIL)
    assert len(taken) == 2 and taken[1] == taken[0] + timedelta(seconds=1)
