"""What every sequence runs on: its state, its life from start to end, and bookkeeping.

`SequenceRuntime` holds the sequence's state, runs its story (`carry_out`), ends it, undoes
what it did when it is called off, keeps the `InterventionState` search attribute current,
and sleeps durably in the family's local time. The building blocks in `workflows.blocks`
and the human inputs in `workflows.inputs` are built on it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from datetime import time as clock_time
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities import FamilyActivities
    from contracts import (
        Bounce,
        CancelRequest,
        Channel,
        Decision,
        EscalationAnswer,
        Event,
        FamilyContext,
        FamilyContextRequest,
        InterventionResult,
        InterventionStart,
        PendingApproval,
        ReceivedResponse,
        SequenceParams,
        State,
        StepOutcome,
        StepRecord,
        StepRef,
        StepStatus,
    )
    from contracts.windows import SendWindow
    from workflows import metrics, timing

from workflows import versions
from workflows.audit import settle_audits
from workflows.search_attributes import STATE

# Error types the channel activities raise for failures that retrying cannot fix.
PERMANENT_ERRORS = ["InvalidRecipient", "HardBounce", "OptedOut", "ProviderRejected"]

SHORT_ACTIVITY = timedelta(seconds=30)


class SequenceCancelled(Exception):
    """Raised inside the story when a `cancel` signal (or a timeout rule) ends the sequence."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def describe(delta: timedelta) -> str:
    """`3 days`, `2 hours`, `45 seconds`: durations as a person writes them in a summary."""
    seconds = int(delta.total_seconds())
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{seconds} second{'s' if seconds != 1 else ''}"


class SequenceRuntime:
    """State and lifecycle shared by every sequence; subclass `Intervention`, not this."""

    @workflow.init
    def __init__(self, start: InterventionStart) -> None:
        self.start = start
        self.params: SequenceParams = start.params
        self.family: FamilyContext | None = None
        self.state = State.SCHEDULED
        self.current_step: str | None = None
        self.next_action_at: Any = None
        self.steps: dict[str, StepRecord] = {}
        self.responses: list[ReceivedResponse] = []
        self.decisions: list[tuple[str, Decision]] = []
        self.decision_log: list[dict[str, Any]] = []
        self.pending_approval: PendingApproval | None = None
        self.cancel_request: CancelRequest | None = None
        self.escalation_answer: tuple[str, EscalationAnswer] | None = None
        self.escalations: dict[str, int] = {}  # step id -> times escalated
        self.compensations: list[tuple[str, Callable[[], Awaitable[None]]]] = []
        self.events: list[Event] = []
        self.outcome: str | None = None
        self._published_state: State | None = None
        # Audit writes started beside the next step (`audit_step(..., alongside_next=True)`).
        self.pending_audits: list[Awaitable[Any]] = []
        # Audit rows the next activity writes first (runs on `versions.CURRENT`).
        self.carried_audits: list[StepOutcome] = []
        self.current_version: bool | None = None  # see `workflows.versions`
        # Bounces by step id (the first of each), and the fallback (channel, message) of
        # every step that went out and has one; a handled bounce leaves `bounce_fallbacks`.
        self.bounces: dict[str, Bounce] = {}
        self.bounce_fallbacks: dict[str, tuple[Channel, str]] = {}
        self._handling_bounce = False

    # ----------------------------------------------------------------- running a story

    @property
    def responded(self) -> bool:
        return bool(self.responses)

    async def carry_out(self, story: Callable[[], Awaitable[str]]) -> InterventionResult:
        """Run the sequence's story; on cancel or failure, undo what it did, newest first."""
        # Measured (BENCHMARKS.md): a local activity for this short store read saves a server
        # round trip and 5 history events per sequence, and the starter has already set
        # InterventionState=scheduled, so repeating it only cost an event and a visibility write.
        # Older histories replay on the old path.
        versions.current(self)  # first, so that a run on today's code asks no other patch
        lean_start = versions.patched(self, "local-family-context")
        started_as = workflow.info().typed_search_attributes.get(STATE)
        if lean_start and started_as == self.state.value:
            self._published_state = self.state
        elif started_as == State.RUNNING.value and self.start.code_version == versions.CURRENT:
            self._published_state = State.RUNNING  # as the starters set it on today's code
        self._publish_state()
        metrics.sequence_started(self.params.name, self.params.version)
        try:
            request = FamilyContextRequest(family_id=self.start.family_id)
            if self.start.family is not None and versions.current(self):
                # The starter read the family just now: no second read.
                self.family = self.start.family
            elif lean_start:
                self.family = await workflow.execute_local_activity_method(
                    FamilyActivities.load_family_context,
                    request,
                    start_to_close_timeout=SHORT_ACTIVITY,
                    summary="Load the family's time zone and channels",
                )
            else:
                self.family = await workflow.execute_activity_method(
                    FamilyActivities.load_family_context,
                    request,
                    start_to_close_timeout=SHORT_ACTIVITY,
                    summary="Load the family's time zone and channels",
                )
            self.outcome = await story()
            await settle_audits(self)
        except SequenceCancelled as cancelled:
            await self._compensate()
            return self._end(State.CANCELLED, f"cancelled: {cancelled.reason}")
        except asyncio.CancelledError:
            # Cancelled from Temporal itself (UI, CLI): undo, then let the cancel stand.
            await self._compensate()
            self._end(State.CANCELLED, "cancelled through Temporal")
            raise
        except Exception as err:
            # The quarantine and the status name the step that broke, not only the outcome.
            failing = self.steps.get(self.current_step or "")
            if failing is not None and failing.status == StepStatus.RUNNING:
                failing.status, failing.error = StepStatus.FAILED, str(err)
            await self._compensate()
            self._end(State.FAILED, f"failed: {err}")
            raise ApplicationError(f"sequence failed: {err}", type="SequenceFailed") from err
        return self._end(State.COMPLETED, self.outcome)

    def _end(self, state: State, outcome: str) -> InterventionResult:
        self.outcome = outcome
        self.current_step = None
        self.next_action_at = None
        self.pending_approval = None
        self._set_state(state)
        metrics.sequence_completed(self.params.name, state.value)
        return InterventionResult(state=state, outcome=outcome, steps=list(self.steps.values()))

    async def _compensate(self) -> None:
        await settle_audits(self)
        if not self.compensations:
            return
        self._set_state(State.COMPENSATING)
        for step_id, undo in reversed(self.compensations):
            # Each undo is an idempotent activity with its own retries; one failing undo
            # must not stop the others from running.
            try:
                await undo()
                self.steps[step_id].status = StepStatus.COMPENSATED
            except Exception as err:
                self.steps[step_id].error = f"compensation failed: {err}"
        self.compensations.clear()

    # ----------------------------------------------------------------- state bookkeeping

    def _set_state(self, state: State) -> None:
        self.state = state
        self._publish_state()

    def _publish_state(self) -> None:
        # One upsert per real change keeps the history short. Between steps the search
        # attribute goes on saying `running` (the `status` query has the detail): each flip
        # to `scheduled` and back was a visibility write per step (BENCHMARKS.md).
        state = self.state
        if (
            state == State.SCHEDULED
            and self._published_state not in (None, State.SCHEDULED)
            and versions.current(self)
        ):
            state = State.RUNNING
        if self._published_state != state:
            workflow.upsert_search_attributes([STATE.value_set(state.value)])
            self._published_state = state

    def _step(self, step_id: str, kind: str, summary: str) -> StepRecord:
        record = self.steps.get(step_id)
        if record is None:
            record = StepRecord(step_id=step_id, kind=kind, summary=summary)
            self.steps[step_id] = record
        self.current_step = step_id
        return record

    def _ref(self, step_id: str) -> StepRef:
        info = workflow.info()
        prediction = self.start.prediction
        return StepRef(
            workflow_id=info.workflow_id,
            run_id=info.run_id,
            step_id=step_id,
            template=self.params.name,
            template_version=self.params.version,
            prediction_id=prediction.prediction_id if prediction else None,
        )

    def _retry_policy(self) -> RetryPolicy:
        retry = self.params.retry
        return RetryPolicy(
            initial_interval=retry.initial_interval,
            backoff_coefficient=retry.backoff,
            maximum_interval=retry.max_interval,
            maximum_attempts=retry.max_attempts,
            non_retryable_error_types=PERMANENT_ERRORS,
        )

    def _check_cancelled(self) -> None:
        if self.cancel_request is not None:
            raise SequenceCancelled(self.cancel_request.reason)

    async def _wait(self, until: Callable[[], bool], timeout: timedelta, summary: str) -> bool:
        """Sleep durably up to `timeout`; wake early when `until()` or a cancel arrives.

        A bounce of a sent step that has a fallback wakes it too: the fallback goes out at
        once, then the sleep goes on until the same deadline. Every wait of a story (for a
        reply, until a step is due, at a gate, for a cap) comes through here, so this one
        place notices a bounce whenever the story is idle, and the fallback never runs in
        the middle of another step. A bounce that arrives while a step runs is acted on at
        the next wait; one that arrives after the story's last wait is only recorded (on
        the message and in the audit by the receiver).
        """
        deadline = workflow.now() + timeout
        while True:
            with contextlib.suppress(TimeoutError):
                await workflow.wait_condition(
                    lambda: until() or self.cancel_request is not None or self._bounce_due(),
                    timeout=timeout if timeout > timedelta(0) else None,
                    timeout_summary=summary,
                )
            self._check_cancelled()
            if until() or not self._bounce_due():
                return until()
            await self._fall_back_after_bounce()
            self._check_cancelled()
            if timeout > timedelta(0):
                timeout = deadline - workflow.now()
                if timeout <= timedelta(0):
                    return until()

    def _bounce_due(self) -> bool:
        """A bounce has arrived for a sent step whose fallback has not gone out yet."""
        # Never while a fallback is going out: its own waits must not start another.
        return not self._handling_bounce and any(s in self.bounce_fallbacks for s in self.bounces)

    async def _fall_back_after_bounce(self) -> None:
        """Send the fallback of a bounced step; the building blocks know how."""
        raise NotImplementedError

    async def _wait_until_due(
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
        assert self.family is not None
        now = workflow.now()
        placement = timing.next_allowed_time(
            now + delay,
            self.family.timezone,
            self.params.quiet_hours,
            urgent=self.params.urgent,
            at=at,
            window=window or (self.params.send_windows.get(channel) if channel else None),
        )
        step.due_at = placement.at
        step.due_reason = "; ".join(r for r in (note, placement.reason) if r) or None
        remaining = placement.at - now
        if remaining > timedelta(0):
            self.next_action_at = placement.at
            self._set_state(State.SCHEDULED)
            why = f" ({placement.reason})" if placement.reason else ""
            await self._wait(lambda: False, remaining, f"Wait {describe(remaining)}{why}")
            self.next_action_at = None
        self._check_cancelled()

    def _begin(self, step: StepRecord) -> None:
        self._set_state(State.RUNNING)
        step.status = StepStatus.RUNNING
        step.started_at = workflow.now()
        if step.due_at is not None:
            metrics.step_latency(self.params.name, step.kind, step.started_at - step.due_at)

    def _finish_step(self, step: StepRecord, status: StepStatus, result: str) -> None:
        step.status = status
        step.result = result
        step.finished_at = workflow.now()

    def _message(self, template_name: str) -> Any:
        try:
            return self.params.messages[template_name]
        except KeyError:
            raise ApplicationError(
                f"template {self.params.name!r} has no message {template_name!r}",
                type="TemplateError",
                non_retryable=True,
            ) from None
