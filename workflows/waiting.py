"""Durable waits in the family's local time, which a cancel or a bounce can interrupt."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import time as clock_time
from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from contracts import Channel, State, StepRecord, channels
    from contracts.windows import SendWindow
    from workflows import timing

from workflows.runtime import InterventionRuntime, SequenceCancelled, describe


class Waiting(InterventionRuntime):
    """`wait` and `wait_until_due`, through which every wait of a story goes."""

    def check_cancelled(self) -> None:
        """Raise `SequenceCancelled` once a cancel has arrived; every block asks first."""
        if self.progress.cancel_request is not None:
            raise SequenceCancelled(self.progress.cancel_request.reason)

    async def wait(self, until: Callable[[], bool], timeout: timedelta, summary: str) -> bool:
        """Sleep durably up to `timeout`; wake early when `until()` or a cancel arrives.

        A bounce of a sent step that has a fallback wakes it too: the fallback goes out at
        once, then the sleep goes on until the same deadline. Every wait of a story (for a
        reply, until a step is due, at a gate, for a cap) comes through here, so this one
        place notices a bounce whenever the story is idle, and the fallback never runs in
        the middle of another step. A bounce that arrives while a step runs is acted on at
        the next wait; one that arrives after the story's last wait is only recorded (on
        the message and in the audit by the receiver). A refused signal wakes it too: its
        audit row is written at once, and the wait goes on.
        """
        deadline = workflow.now() + timeout
        while True:
            with contextlib.suppress(TimeoutError):
                await workflow.wait_condition(
                    lambda: (
                        until()
                        or self.progress.cancel_request is not None
                        or self.bounce_due()
                        or self.audit_due()
                    ),
                    timeout=timeout if timeout > timedelta(0) else None,
                    timeout_summary=summary,
                )
            self.check_cancelled()
            if until():
                return True
            if self.audit_due():  # a refused signal: into the audit trail, then wait on
                await self.write_carried_audits()
            elif self.bounce_due():
                await self.fall_back_after_bounce()
                self.check_cancelled()
            else:
                return False
            if timeout > timedelta(0):
                timeout = deadline - workflow.now()
                if timeout <= timedelta(0):
                    return until()

    def bounce_due(self) -> bool:
        """A bounce has arrived for a sent step whose fallback has not gone out yet."""
        # Never while a fallback is going out: its own waits must not start another.
        progress = self.progress
        return not progress.handling_bounce and any(
            step_id in progress.bounce_fallbacks for step_id in progress.bounces
        )

    async def fall_back_after_bounce(self) -> None:
        """Send the fallback of a bounced step; `Intervention` knows how."""
        raise NotImplementedError

    def audit_due(self) -> bool:
        """A refused signal waits for the audit trail; `HumanInputs` knows."""
        return False

    async def wait_until_due(
        self,
        step: StepRecord,
        delay: timedelta,
        at: clock_time | None,
        channel: Channel | None = None,
        note: str | None = None,
        window: SendWindow | None = None,
    ) -> None:
        """Place the step in the family's local time (and the channel's send window, if the
        template has one), then sleep until then."""
        family = self.progress.family
        assert family is not None
        now = workflow.now()
        placement = timing.next_allowed_time(
            now + delay,
            family.timezone,
            self.params.quiet_hours,
            urgent=self.params.urgent,
            at=at,
            window=window
            or (channels.send_window(channel, self.params.send_windows) if channel else None),
        )
        step.due_at = placement.at
        step.due_reason = "; ".join(r for r in (note, placement.reason) if r) or None
        remaining = placement.at - now
        if remaining > timedelta(0):
            self.progress.next_action_at = placement.at
            self.set_state(State.SCHEDULED)
            why = f" ({placement.reason})" if placement.reason else ""
            await self.wait(lambda: False, remaining, f"Wait {describe(remaining)}{why}")
            self.progress.next_action_at = None
        self.check_cancelled()
