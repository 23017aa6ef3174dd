"""Provider rate limits: a task queue per message channel, limited by Temporal for all workers.

A sequence sends each message through its channel's task queue (`ChannelSpec.send_queue`:
`interventions-email`, `interventions-sms`, ...). The workers of that queue ask Temporal to
dispatch at most the channel's rate (`Settings.send_rates`, from EMAIL_RATE_PER_SECOND and
the like): the server enforces it for the queue, so for every worker process together,
retries included. A send waits its turn in the queue; nothing is dropped. Without a rate the
queue has no limit and sends go out as fast as the workers take them, as before.

Every worker process serves its sequences' queue and every send queue, one `Worker` each on
the same client and the same activity instances (`Workers`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from contextlib import AsyncExitStack
from types import TracebackType
from typing import Any

from temporalio.client import Client
from temporalio.worker import Worker, WorkerConfig

from contracts import Channel, channels


def send_workers(
    client: Client,
    task_queue: str,
    sends: Mapping[Channel, Callable[..., Any]],
    rates: Mapping[Channel, float],
    **options: Any,
) -> dict[Channel, Worker]:
    """A worker per channel of `sends` (its send activity) on that channel's send queue for
    sequences on `task_queue`, asking for the channel's rate when `rates` has one."""
    return {
        channel: Worker(
            client,
            task_queue=channels.spec(channel).send_queue(task_queue),
            activities=[send],
            # Server-side: Temporal dispatches at most this many of the queue's activity
            # tasks per second, whichever worker polls. Every worker sets the same value
            # (the last poll's wins), as they all read the same settings.
            max_task_queue_activities_per_second=rates.get(channel),
            **options,
        )
        for channel, send in sends.items()
    }


class Workers:
    """Workers that start and stop together: the sequences' own and one per send queue."""

    def __init__(self, main: Worker, sends: Mapping[Channel, Worker]) -> None:
        self.main = main
        self.sends = dict(sends)
        self._running: AsyncExitStack | None = None

    @property
    def all(self) -> list[Worker]:
        return [self.main, *self.sends.values()]

    def config(self) -> WorkerConfig:
        """The sequences' worker's configuration."""
        return self.main.config()

    async def __aenter__(self) -> Workers:
        async with AsyncExitStack() as stack:
            for worker in self.all:
                await stack.enter_async_context(worker)
            self._running = stack.pop_all()
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        # Stop them all at once (each then returns at once from its own exit).
        await asyncio.gather(*(worker.shutdown() for worker in self.all))
        if self._running is not None:
            running, self._running = self._running, None
            await running.__aexit__(kind, error, trace)
