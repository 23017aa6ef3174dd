"""Timestamps the bench's activities leave behind, read by the measurements in-process."""

from __future__ import annotations

import asyncio
import time
from collections import Counter


class Marks:
    """`hit(name, workflow_id)` records when an activity started; `expect` awaits one."""

    def __init__(self) -> None:
        self.at: dict[tuple[str, str], float] = {}
        self.counts: Counter[str] = Counter()
        self._waiting: dict[tuple[str, str], asyncio.Event] = {}

    def hit(self, name: str, workflow_id: str | None) -> None:
        key = (name, workflow_id or "")
        self.at.setdefault(key, time.perf_counter())
        self.counts[name] += 1
        event = self._waiting.pop(key, None)
        if event is not None:
            event.set()

    def expect(self, name: str, workflow_id: str) -> asyncio.Event:
        """Register before the signal is sent, so a fast activity is never missed."""
        event = asyncio.Event()
        if (name, workflow_id) in self.at:
            event.set()
        else:
            self._waiting[(name, workflow_id)] = event
        return event

    async def wait_count(self, name: str, count: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while self.counts[name] < count:
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(0.05)
        return True


MARKS = Marks()
