"""The breaker state every worker shares: two workers' providers over one store, against a
real local HTTP provider that goes down."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import httpx
import pytest
from temporalio.exceptions import ApplicationError

from activities.breaker import CIRCUIT_OPEN, BreakerPolicy
from activities.providers import PROVIDER_UNAVAILABLE, Provider
from contracts import Channel
from tests.fake_provider import FakeProvider
from worker import build_providers

POLICY = BreakerPolicy(failure_threshold=3, open_for=timedelta(seconds=1))


async def send(provider: Provider, n: int = 0) -> str:
    return await provider.send(
        recipient="a@example.org", subject="s", body="b", idempotency_key=f"k{n}"
    )


async def failure_type(provider: Provider, n: int = 0) -> str:
    with pytest.raises(ApplicationError) as failed:
        await send(provider, n)
    return str(failed.value.type)


async def test_two_workers_open_probe_and_close_together(store, settings):
    with FakeProvider().running() as fake:
        http_settings = fake.settings(settings)
        async with httpx.AsyncClient(timeout=5.0) as http:
            first = build_providers(http_settings, http, store, POLICY)[Channel.EMAIL]  # worker A
            second = build_providers(http_settings, http, store, POLICY)[Channel.EMAIL]  # worker B
            back_at = fake.down("email", 1.5)
            for n in range(3):  # A meets the outage: the third failure opens the circuit
                assert await failure_type(first, n) == PROVIDER_UNAVAILABLE
            assert len(fake.on("email")) == 3
            # B has not called the provider once, and does not now: the circuit is shared.
            assert await failure_type(second, 3) == CIRCUIT_OPEN
            assert len(fake.on("email")) == 3
            await asyncio.sleep(max(0.0, back_at - time.monotonic()) + 0.1)
            # The window has passed and the provider is back: one probe across both workers.
            results = await asyncio.gather(send(first, 4), send(second, 5), return_exceptions=True)
            probes = [r for r in results if isinstance(r, str)]
            waited = [r for r in results if isinstance(r, ApplicationError)]
            assert len(probes) == 1 and [e.type for e in waited] == [CIRCUIT_OPEN]
            assert len(fake.on("email")) == 4
            circuit = await store.circuits.get("http-email")
            assert circuit is not None and circuit.state == "closed"
            await asyncio.sleep(POLICY.open_for.total_seconds() + 0.05)  # B's next refresh
            # Healthy: both send, and a healthy send reads the store at most once a second.
            reads = 0
            real_get = store.circuits.get

            async def counted(provider: str):
                nonlocal reads
                reads += 1
                return await real_get(provider)

            store.circuits.get = counted
            began = time.monotonic()
            for n in range(10):
                await send(first, 10 + n)
                await send(second, 30 + n)
            took = time.monotonic() - began
    # At most one read per worker and refresh (a second): not one per send.
    assert reads <= 2 * (int(took / POLICY.open_for.total_seconds()) + 1) < 20, (reads, took)
    assert len(fake.deliveries("email")) == 21
