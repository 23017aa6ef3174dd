"""The circuit breaker's state machine, on a fake clock, and its health rows in the store."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta

import httpx
import pytest
from temporalio.exceptions import ApplicationError
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
from temporalio.testing import ActivityEnvironment

from activities.breaker import (
    CIRCUIT_OPEN,
    Breaker,
    BreakerPolicy,
    BreakerProvider,
    BreakerSnapshot,
    BreakerState,
    breaker_snapshots,
    record_in_store,
)
from followthrough.platform.devserver import free_port
from store import Store


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class ScriptedProvider:
    """Fails with the scripted errors in order, then succeeds; counts the calls it got."""

    name = "scripted"

    def __init__(self, *errors: ApplicationError | None) -> None:
        self.script = list(errors)
        self.calls = 0

    async def send(self, *, recipient, subject, body, idempotency_key) -> str:
        self.calls += 1
        error = self.script.pop(0) if self.script else None
        if error is not None:
            raise error
        return f"msg-{self.calls}"


def down() -> ApplicationError:
    return ApplicationError("provider error 503", type="ProviderUnavailable")


def refused() -> ApplicationError:
    return ApplicationError("bad address", type="InvalidRecipient", non_retryable=True)


async def send(provider: BreakerProvider) -> str:
    return await provider.send(recipient="a@b.c", subject=None, body="hi", idempotency_key="k")


def guarded(inner: ScriptedProvider, clock: Clock, threshold: int = 3) -> BreakerProvider:
    policy = BreakerPolicy(failure_threshold=threshold, open_for=timedelta(seconds=10))
    return BreakerProvider(inner, Breaker(inner.name, policy, clock=clock))


async def test_opens_after_consecutive_transient_failures_and_fails_fast():
    clock = Clock()
    inner = ScriptedProvider(down(), down(), down())
    provider = guarded(inner, clock)
    for _ in range(3):
        with pytest.raises(ApplicationError):
            await send(provider)
    assert provider.breaker.state == BreakerState.OPEN

    clock.now += 4
    with pytest.raises(ApplicationError) as caught:
        await send(provider)
    assert inner.calls == 3  # failed fast: the provider was not called
    assert caught.value.type == CIRCUIT_OPEN and not caught.value.non_retryable
    assert caught.value.next_retry_delay == timedelta(seconds=6)


async def test_half_open_probe_closes_it_again():
    clock = Clock()
    inner = ScriptedProvider(down(), down(), down())
    provider = guarded(inner, clock)
    for _ in range(3):
        with pytest.raises(ApplicationError):
            await send(provider)
    clock.now += 10
    assert await send(provider) == "msg-4"
    assert provider.breaker.state == BreakerState.CLOSED
    assert provider.breaker.snapshot().consecutive_failures == 0


async def test_failed_probe_opens_it_for_another_window():
    clock = Clock()
    inner = ScriptedProvider(down(), down(), down(), down())
    provider = guarded(inner, clock)
    for _ in range(3):
        with pytest.raises(ApplicationError):
            await send(provider)
    clock.now += 10
    with pytest.raises(ApplicationError) as caught:
        await send(provider)  # the probe reaches the provider and fails
    assert caught.value.type == "ProviderUnavailable" and inner.calls == 4
    assert provider.breaker.state == BreakerState.OPEN
    assert provider.breaker.snapshot().open_remaining == timedelta(seconds=10)


async def test_permanent_failures_and_interleaved_successes_do_not_open_it():
    clock = Clock()
    inner = ScriptedProvider(down(), down(), refused(), down(), down(), None, down(), down())
    provider = guarded(inner, clock)
    for _ in range(8):
        with contextlib.suppress(ApplicationError):
            await send(provider)
    assert inner.calls == 8 and provider.breaker.state == BreakerState.CLOSED


async def test_transitions_reach_the_store_and_the_metric_hook(store: Store):
    clock = Clock()
    provider = guarded(ScriptedProvider(down()), clock, threshold=1)
    provider.breaker.add_listener(record_in_store(store, worker="w1"))
    with pytest.raises(ApplicationError):
        await send(provider)
    rows = await store.health.list()
    assert [(r.provider, r.worker, r.state, r.consecutive_failures) for r in rows] == [
        ("scripted", "w1", "open", 1)
    ]
    assert rows[0].open_until is not None and "503" in (rows[0].last_error or "")
    assert any(s.state == BreakerState.OPEN for s in breaker_snapshots())

    clock.now += 10
    await send(provider)
    rows = await store.health.list()
    assert [(r.state, r.transitions) for r in rows] == [("closed", 3)]


async def test_state_gauge_reaches_prometheus():
    port = free_port()
    runtime = Runtime(
        telemetry=TelemetryConfig(metrics=PrometheusConfig(bind_address=f"127.0.0.1:{port}"))
    )
    env = ActivityEnvironment()
    env.metric_meter = runtime.metric_meter
    provider = guarded(ScriptedProvider(down()), Clock(), threshold=1)

    async def fail_once() -> None:
        with contextlib.suppress(ApplicationError):
            await send(provider)

    await env.run(fail_once)
    async with httpx.AsyncClient() as scrape:
        text = (await scrape.get(f"http://127.0.0.1:{port}/metrics")).text
    [line] = [
        line
        for line in text.splitlines()
        if line.startswith("followthrough_provider_breaker_state{")
    ]
    assert 'provider="scripted"' in line and line.endswith(" 2")


async def test_one_probe_at_a_time_and_listeners_in_order():
    clock = Clock()
    inner = ScriptedProvider(down())
    provider = guarded(inner, clock, threshold=1)
    seen: list[str] = []

    async def slow_on_half_open(snapshot: BreakerSnapshot) -> None:
        # The half-open write (a store round trip) takes longer than what follows it.
        if snapshot.state == BreakerState.HALF_OPEN:
            await asyncio.sleep(0.05)
        seen.append(snapshot.state.value)

    provider.breaker.add_listener(slow_on_half_open)
    with contextlib.suppress(ApplicationError):
        await send(provider)
    clock.now += 10
    probe, other = await asyncio.gather(send(provider), send(provider), return_exceptions=True)

    assert probe == "msg-2" and inner.calls == 2  # only the probe reached the provider
    assert isinstance(other, ApplicationError) and other.type == CIRCUIT_OPEN
    assert seen == ["open", "half_open", "closed"]
