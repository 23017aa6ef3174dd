"""A per-provider circuit breaker, wrapped around each HTTP provider in the worker.

Closed: calls go through; `failure_threshold` consecutive transient failures open it.
Open: calls fail fast, as a transient `ApplicationError` whose `next_retry_delay` is the time
left, so Temporal's retries wait instead of hammering a provider that is down.
Half-open: once the open window has passed, one call at a time probes the provider; a success
closes the breaker, a transient failure opens it for another window.

Permanent failures (a 4xx for one bad address) prove the provider is up, so they count as
successes here. Every transition is reported to listeners (the worker records it in the
store's `provider_health` table, read by `followthrough health`; other code may subscribe
with `Breaker.add_listener` or read `breaker_snapshots()`) and set as the Prometheus gauge
`followthrough_provider_breaker_state{provider=...}`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.providers import Provider, honours_idempotency_key
from store import Store

CIRCUIT_OPEN = "ProviderCircuitOpen"
STATE_GAUGE = "followthrough_provider_breaker_state"

log = logging.getLogger(__name__)


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(frozen=True)
class BreakerPolicy:
    """When a breaker opens and for how long it stays open."""

    failure_threshold: int = 5  # the worker sets it from BREAKER_FAILURE_THRESHOLD
    open_for: timedelta = timedelta(seconds=60)  # and this from BREAKER_OPEN_SECONDS


@dataclass(frozen=True)
class BreakerSnapshot:
    """What a breaker looks like now: for the health table, logs and metrics."""

    provider: str
    state: BreakerState
    consecutive_failures: int
    open_remaining: timedelta
    last_error: str | None
    transitions: int


Listener = Callable[[BreakerSnapshot], Awaitable[None]]

_LIVE: weakref.WeakSet[Breaker] = weakref.WeakSet()


def breaker_snapshots() -> list[BreakerSnapshot]:
    """Every breaker alive in this process, now: the hook a metrics exporter reads."""
    return sorted((b.snapshot() for b in _LIVE), key=lambda s: s.provider)


class Breaker:
    """The state machine of one provider's circuit; `clock` is injectable for tests."""

    def __init__(
        self,
        provider: str,
        policy: BreakerPolicy,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.provider = provider
        self.policy = policy
        self._clock = clock
        self._state = BreakerState.CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self._probing = False
        self._last_error: str | None = None
        self._transitions = 0
        self._listeners: list[Listener] = []
        # Listeners await (a store write); without this, a slow "half_open" write could land
        # after the "closed" one that followed it. asyncio.Lock is FIFO: order is kept.
        self._notify = asyncio.Lock()
        _LIVE.add(self)

    def add_listener(self, listener: Listener) -> None:
        """Be told of every state change (after it happened)."""
        self._listeners.append(listener)

    @property
    def state(self) -> BreakerState:
        return self._state

    def snapshot(self) -> BreakerSnapshot:
        return BreakerSnapshot(
            provider=self.provider,
            state=self._state,
            consecutive_failures=self._failures,
            open_remaining=self._remaining(),
            last_error=self._last_error,
            transitions=self._transitions,
        )

    def _remaining(self) -> timedelta:
        if self._state != BreakerState.OPEN:
            return timedelta(0)
        left = self._opened_at + self.policy.open_for.total_seconds() - self._clock()
        return timedelta(seconds=max(0.0, left))

    async def before_call(self) -> None:
        """Let a call through, or raise the fail-fast transient error."""
        if self._state == BreakerState.OPEN:
            remaining = self._remaining()
            if remaining > timedelta(0):
                raise self._fail_fast(remaining)
            # Claim the probe before awaiting the listeners, so no other call probes too.
            self._probing = True
            await self._move(BreakerState.HALF_OPEN)
            return
        if self._state == BreakerState.HALF_OPEN:
            if self._probing:
                # One probe at a time; the others come back when it has had its chance.
                raise self._fail_fast(min(self.policy.open_for, timedelta(seconds=1)))
            self._probing = True

    def abandon(self) -> None:
        """A call ended without an answer (cancelled): free the probe slot, judge nothing."""
        self._probing = False

    async def on_success(self) -> None:
        self._probing = False
        self._failures = 0
        if self._state != BreakerState.CLOSED:
            await self._move(BreakerState.CLOSED)

    async def on_transient_failure(self, error: str) -> None:
        self._probing = False
        self._failures += 1
        self._last_error = error
        if self._state == BreakerState.HALF_OPEN or (
            self._state == BreakerState.CLOSED and self._failures >= self.policy.failure_threshold
        ):
            self._opened_at = self._clock()
            await self._move(BreakerState.OPEN)

    def _fail_fast(self, delay: timedelta) -> ApplicationError:
        return ApplicationError(
            f"circuit open for {self.provider}: not calling it for another "
            f"{delay.total_seconds():.1f}s (last error: {self._last_error})",
            type=CIRCUIT_OPEN,
            next_retry_delay=delay,
        )

    async def _move(self, state: BreakerState) -> None:
        self._state = state
        self._transitions += 1
        snapshot = self.snapshot()
        log.warning("provider %s circuit %s", self.provider, state.value)
        async with self._notify:
            for listener in self._listeners:
                try:
                    await listener(snapshot)
                except Exception:  # a broken listener must not break sending
                    log.exception("breaker listener failed for %s", self.provider)
        _export(snapshot)


_LEVELS = {BreakerState.CLOSED: 0, BreakerState.HALF_OPEN: 1, BreakerState.OPEN: 2}


def _export(snapshot: BreakerSnapshot) -> None:
    # Transitions happen inside a send activity, so the SDK's meter is at hand: the gauge
    # reaches the worker's Prometheus endpoint (METRICS_PORT) with the SDK's own metrics.
    if not activity.in_activity():
        return
    gauge = activity.metric_meter().create_gauge(
        STATE_GAUGE, "Provider circuit breaker: 0 closed, 1 half-open, 2 open"
    )
    gauge.set(_LEVELS[snapshot.state], {"provider": snapshot.provider})


class BreakerProvider:
    """A `Provider` that goes through a breaker; the wrapped provider's name is kept."""

    def __init__(self, provider: Provider, breaker: Breaker) -> None:
        self._provider = provider
        self.breaker = breaker
        self.name = provider.name
        self.idempotent = honours_idempotency_key(provider)

    async def send(
        self, *, recipient: str, subject: str | None, body: str, idempotency_key: str
    ) -> str:
        await self.breaker.before_call()
        try:
            message_id = await self._provider.send(
                recipient=recipient, subject=subject, body=body, idempotency_key=idempotency_key
            )
        except ApplicationError as err:
            if err.non_retryable:
                await self.breaker.on_success()  # it answered: it is up
            else:
                await self.breaker.on_transient_failure(f"{err.type}: {err.message}")
            raise
        except Exception as err:
            await self.breaker.on_transient_failure(f"{type(err).__name__}: {err}")
            raise
        except BaseException:
            self.breaker.abandon()
            raise
        await self.breaker.on_success()
        return message_id


def worker_identity() -> str:
    """`host:pid`: which worker's breaker a health row describes."""
    return f"{socket.gethostname()}:{os.getpid()}"


def record_in_store(store: Store, worker: str | None = None) -> Listener:
    """A listener that writes each transition to the store's `provider_health` table."""
    identity = worker or worker_identity()

    async def listener(snapshot: BreakerSnapshot) -> None:
        open_until = None
        if snapshot.state == BreakerState.OPEN:
            open_until = datetime.now(UTC) + snapshot.open_remaining
        await store.health.record(
            provider=snapshot.provider,
            worker=identity,
            state=snapshot.state.value,
            consecutive_failures=snapshot.consecutive_failures,
            open_until=open_until,
            last_error=snapshot.last_error,
            transitions=snapshot.transitions,
        )

    return listener
