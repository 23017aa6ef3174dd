"""A circuit breaker whose state every worker shares through the store (`provider_circuits`).

Transient failures are counted in the store, all workers together, so the `threshold`-th
failure anywhere opens the circuit for everyone; once its window has passed, one call across
all workers probes the provider (`CircuitRepository.claim_probe`), and its success closes the
circuit for everyone. Each worker keeps what it last read for `refresh` (a second by default):
a healthy send reads nothing and writes nothing, so it pays no extra round trip; a worker
learns of a circuit another opened at its next refresh or its own next failure.

When the store cannot be reached, the breaker goes on alone with the worker's own state
(`Breaker`), as before the state was shared.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy.exc import SQLAlchemyError

from activities.breaker import Breaker, BreakerPolicy, BreakerState
from store.health import CircuitRepository, ProviderCircuit

log = logging.getLogger(__name__)

REFRESH = timedelta(seconds=1)
_STORE_ERRORS = (OSError, SQLAlchemyError)


class SharedBreaker(Breaker):
    """`Breaker` over the shared row of its provider; the row is read at most every
    `refresh` and written only when a call fails or an unhealthy circuit heals."""

    def __init__(
        self,
        provider: str,
        policy: BreakerPolicy,
        circuits: CircuitRepository,
        *,
        refresh: timedelta = REFRESH,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(provider, policy, clock)
        self._circuits = circuits
        self._refresh = min(refresh, policy.open_for).total_seconds()
        self._read_at = float("-inf")
        self._open_until: datetime | None = None

    def _remaining(self) -> timedelta:
        if self._state != BreakerState.OPEN or self._open_until is None:
            return super()._remaining()
        return max(timedelta(0), self._open_until - datetime.now(UTC))

    async def before_call(self) -> None:
        try:
            if self._clock() - self._read_at >= self._refresh:
                await self._adopt(await self._circuits.get(self.provider))
            if self._state == BreakerState.CLOSED:
                return
            remaining = self._remaining()
            if self._state == BreakerState.OPEN and remaining > timedelta(0):
                raise self._fail_fast(remaining)
            if self._probing:  # this worker's probe is out: the others wait for it
                raise self._fail_fast(min(self.policy.open_for, timedelta(seconds=1)))
            claimed = await self._circuits.claim_probe(self.provider, self.policy.open_for)
        except _STORE_ERRORS as err:  # the store is away: decide alone
            log.warning("shared breaker of %s: store unavailable (%s)", self.provider, err)
            await super().before_call()
            return
        if claimed is None:  # another worker probes, or the circuit moved on
            raise self._fail_fast(min(self.policy.open_for, timedelta(seconds=1)))
        self._probing = True
        await self._adopt(claimed)

    async def on_success(self) -> None:
        self._probing = False
        if self._state == BreakerState.CLOSED and self._failures == 0:
            return  # healthy: nothing to tell the others
        try:
            await self._adopt(await self._circuits.succeeded(self.provider))
        except _STORE_ERRORS:
            await super().on_success()

    async def on_transient_failure(self, error: str) -> None:
        self._probing = False
        try:
            row = await self._circuits.failed(
                self.provider,
                error,
                threshold=self.policy.failure_threshold,
                open_for=self.policy.open_for,
            )
        except _STORE_ERRORS:
            await super().on_transient_failure(error)
            return
        await self._adopt(row)

    async def _adopt(self, row: ProviderCircuit | None) -> None:
        """Take the shared state as this worker's own; listeners hear of a change."""
        self._read_at = self._clock()
        if row is None:
            state, failures, open_until, error = BreakerState.CLOSED, 0, None, self._last_error
        else:
            state, failures = BreakerState(row.state), row.failures
            open_until, error = row.open_until, row.last_error
        self._failures, self._open_until, self._last_error = failures, open_until, error
        if state != self._state:
            if state == BreakerState.OPEN:
                self._opened_at = self._clock()
            await self._move(state)
