"""The building blocks every intervention sequence is made of.

A sequence is a short class that subclasses `Intervention` and tells its story with these
blocks: `send`, `wait_for_response`, `check`, `open_task`, `approval_gate`. Everything the
story should not have to repeat lives here once: local-time scheduling, retries and
fallbacks, escalation to a person, compensation, signals, the `status` query, search
attributes and the summaries that make the Web UI's history read like the story.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from datetime import time as clock_time
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, RetryState

with workflow.unsafe.imports_passed_through():
    from activities import ChannelActivities, FamilyActivities, TaskActivities
    from activities.channels import FREQUENCY_CAPPED
    from contracts import (
        CancelTaskRequest,
        Channel,
        Condition,
        ConditionRequest,
        PendingApproval,
        SendRequest,
        State,
        StepRecord,
        StepStatus,
        TaskKind,
        TaskRequest,
    )
    from workflows import metrics

from workflows import versions
from workflows.audit import audit_step, settle_audits, take_carried, write_carried
from workflows.best_hour import best_hour
from workflows.escalation import escalate
from workflows.inputs import HumanInputs
from workflows.pacing import wait_for_frequency_cap, wait_for_slot
from workflows.runtime import (
    PERMANENT_ERRORS,
    SHORT_ACTIVITY,
    SequenceCancelled,
    SequenceRuntime,
    describe,
)
from workflows.search_attributes import (
    FAMILY_ID,
    RISK_SCORE,
    STATE,
    TEMPLATE_NAME,
    TEMPLATE_VERSION,
)

__all__ = [
    "FAMILY_ID",
    "PERMANENT_ERRORS",
    "RISK_SCORE",
    "SHORT_ACTIVITY",
    "STATE",
    "TEMPLATE_NAME",
    "TEMPLATE_VERSION",
    "Intervention",
    "SequenceCancelled",
    "SequenceRuntime",
    "describe",
]


class Intervention(HumanInputs):
    """Base class of every sequence: the shared building blocks a story is told with."""

    # ----------------------------------------------------------------- the building blocks

    async def send(
        self,
        channel: Channel,
        template_name: str,
        *,
        step: str | None = None,
        delay: timedelta = timedelta(0),
        at: clock_time | None = None,
        fallback: Channel | None = None,
    ) -> bool:
        """Send a message on a channel at the right local time.

        On a permanent failure or exhausted retries, fall back (email → SMS → call task)
        or escalate to a person. Returns True when a message went out on some channel.
        """
        self._check_cancelled()
        step_id = step or f"{channel.value}_{template_name}"
        record = self._step(step_id, channel.value, f"Send {channel.value} '{template_name}'")
        record.channel = channel
        note, window = None, None
        if at is None and self.params.best_hour and channel != Channel.CALL:
            window, note = await best_hour(self, channel)
        await self._wait_until_due(record, delay, at, channel, note, window)
        assert self.family is not None
        if channel == Channel.CALL:
            return await self._fallback_to_call(record, template_name)
        usable = channel not in self.family.opted_out and channel in self.family.channels
        capped = usable and channel in self.params.caps
        # The send checks its own cap: no slot check before it in the common, uncapped case.
        caps_in_send = capped and versions.patched(self, "caps-in-send")
        # Histories from before caps existed must replay without the new slot checks.
        if capped and not caps_in_send and workflow.patched("frequency-caps"):
            await wait_for_frequency_cap(self, record, channel)
            self._check_cancelled()
        # The audit trail stays in order: the wait's row first (today the send writes it).
        if not versions.current(self):
            await settle_audits(self)
        while True:
            if channel in self.family.opted_out or channel not in self.family.channels:
                error = f"family has no usable {channel.value} channel"
                record.error = error
                return await self._after_failure(record, template_name, fallback, error)
            self._begin(record)
            try:
                result = await workflow.execute_activity_method(
                    ChannelActivities.send_email
                    if channel == Channel.EMAIL
                    else ChannelActivities.send_sms,
                    SendRequest(
                        ref=self._ref(step_id).model_copy(
                            update={"round": self.escalations.get(step_id, 0)}
                        ),
                        family_id=self.start.family_id,
                        channel=channel,
                        template_name=template_name,
                        message=self._message(template_name),
                        cap=self.params.caps[channel] if caps_in_send else None,
                        audits=take_carried(self),
                    ),
                    start_to_close_timeout=self.params.retry.attempt_timeout,
                    retry_policy=self._retry_policy(),
                    summary=f"Send {channel.value} '{template_name}'",
                )
            except ActivityError as err:
                slot = _capped_until(err)
                if slot is not None:  # not a failure: wait for the cap's next window
                    await wait_for_slot(self, record, channel, slot)
                    self._check_cancelled()
                    continue
                record.attempts += _attempts(err, self.params.retry.max_attempts)
                record.error = _describe_error(err)
                cause = err.cause
                metrics.channel_error(
                    self.params.name,
                    channel.value,
                    cause.type or "ApplicationError"
                    if isinstance(cause, ApplicationError)
                    else type(cause).__name__,
                )
                if fallback is None and await self._escalate(record) == "resume":
                    continue
                return await self._after_failure(record, template_name, fallback, record.error)
            record.attempts += result.attempts
            record.error = None
            self._finish_step(record, StepStatus.DONE, f"sent via {result.provider}")
            if fallback is not None:
                self.bounce_fallbacks[step_id] = (fallback, template_name)
            return True

    async def _after_failure(
        self, record: StepRecord, template_name: str, fallback: Channel | None, error: str
    ) -> bool:
        if fallback is None:
            self._finish_step(record, StepStatus.SKIPPED, f"skipped after: {error}")
            await audit_step(self, record, "skipped")
            return False
        self._finish_step(record, StepStatus.FELL_BACK, f"fell back to {fallback.value}")
        await audit_step(self, record, f"fell back to {fallback.value}")
        next_fallback = Channel.CALL if fallback == Channel.SMS else None
        return await self.send(
            fallback,
            template_name,
            step=f"{record.step_id}_fallback_{fallback.value}",
            fallback=next_fallback,
        )

    async def _fall_back_after_bounce(self) -> None:
        """A sent step bounced: it falls back as a failed send does, once, then the story's
        wait resumes where it was (its step, state and next action time)."""
        step_id = next(s for s in self.bounces if s in self.bounce_fallbacks)
        bounce = self.bounces[step_id]
        fallback, template_name = self.bounce_fallbacks.pop(step_id)
        record = self.steps[step_id]
        record.error = f"HardBounce: {bounce.reason or f'the {bounce.channel.value} bounced'}"
        metrics.channel_error(self.params.name, bounce.channel.value, "HardBounce")
        resume = (self.current_step, self.state, self.next_action_at)
        self._handling_bounce = True
        try:
            await self._after_failure(record, template_name, fallback, record.error)
        finally:
            self._handling_bounce = False
        self.current_step, state, self.next_action_at = resume
        self._set_state(state)

    async def _fallback_to_call(self, record: StepRecord, template_name: str) -> bool:
        task_id = await self._run_task(
            record,
            TaskKind.CALL,
            f"Messages could not be delivered ('{template_name}'): please call",
            compensate=False,
        )
        return task_id is not None

    async def wait_for_response(self, timeout: timedelta, *, step: str = "wait_reply") -> bool:
        """Wait up to `timeout` for the family to answer; a `record_response` wakes it."""
        self._check_cancelled()
        summary = f"Wait up to {describe(timeout)} for a reply"
        record = self._step(step, "wait", summary)
        record.status = StepStatus.RUNNING
        record.started_at = workflow.now()
        if not self.responded:
            self.next_action_at = workflow.now() + timeout
            self._set_state(State.SCHEDULED)
        answered = await self._wait(lambda: self.responded, timeout, summary)
        self.next_action_at = None
        self._finish_step(record, StepStatus.DONE, "reply received" if answered else "no reply")
        outcome = "reply received" if answered else "no reply"
        await audit_step(self, record, outcome, alongside_next=True)
        return answered

    async def check(self, condition: Condition, *, step: str, summary: str) -> bool:
        """Evaluate a condition against the family's current data, the prediction and replies."""
        self._check_cancelled()
        record = self._step(step, "condition", summary)
        self._begin(record)
        prediction = self.start.prediction
        facts: dict[str, Any] = {
            "response_received": self.responded,
            "responses": [r.channel.value for r in self.responses],
            # The seed's spelling, e.g. `email_response_received`.
            **{
                f"{c.value}_response_received": any(r.channel == c for r in self.responses)
                for c in Channel
            },
            "events": {e.name: e.data for e in self.events},
            "probability": prediction.probability if prediction else None,
            "confidence": prediction.confidence if prediction else None,
        }
        await write_carried(self)  # the check writes its own row: the earlier ones first
        result = await workflow.execute_activity_method(
            FamilyActivities.evaluate_condition,
            ConditionRequest(
                ref=self._ref(step),
                family_id=self.start.family_id,
                condition=condition,
                facts=facts,
            ),
            start_to_close_timeout=SHORT_ACTIVITY,
            summary=summary,
        )
        record.attempts += 1
        self._finish_step(record, StepStatus.DONE, f"{result.value}: {result.explanation}")
        return result.value

    async def open_task(
        self,
        kind: TaskKind,
        *,
        reason: str,
        step: str | None = None,
        delay: timedelta = timedelta(0),
        at: clock_time | None = None,
        approval: bool = False,
        compensate: bool = False,
    ) -> int | None:
        """Open a coordinator task (a call, a to-do), optionally behind an approval gate.

        With `compensate`, cancelling the sequence later cancels the task again.
        Returns the task id, or None when the gate said no.
        """
        self._check_cancelled()
        step_id = step or f"{kind.value}_task"
        record = self._step(step_id, kind.value, f"Open a {kind.value} task: {reason}")
        await self._wait_until_due(record, delay, at)
        if approval and not await self.approval_gate(step_id, reason):
            self._finish_step(record, StepStatus.SKIPPED, "not approved")
            await audit_step(self, record, "not approved")
            return None
        return await self._run_task(record, kind, reason, compensate=compensate)

    async def _run_task(
        self,
        record: StepRecord,
        kind: TaskKind,
        reason: str,
        *,
        compensate: bool,
        details: dict[str, Any] | None = None,
    ) -> int | None:
        self._begin(record)
        ref = self._ref(record.step_id)
        result = await workflow.execute_activity_method(
            TaskActivities.open_task,
            TaskRequest(
                ref=ref,
                family_id=self.start.family_id,
                kind=kind,
                reason=reason,
                assign_to=self.params.escalation.assign_to,
                details=details or {},
                audits=take_carried(self),
            ),
            start_to_close_timeout=SHORT_ACTIVITY,
            retry_policy=self._retry_policy(),
            summary=f"Open a {kind.value} task for a {self.params.escalation.assign_to}",
        )
        record.attempts += 1
        self._finish_step(record, StepStatus.DONE, f"task {result.task_id} opened")
        if compensate:

            async def undo() -> None:
                await workflow.execute_activity_method(
                    TaskActivities.cancel_task,
                    CancelTaskRequest(
                        ref=ref, task_id=result.task_id, reason="sequence called off"
                    ),
                    start_to_close_timeout=SHORT_ACTIVITY,
                    retry_policy=RetryPolicy(maximum_attempts=10),
                    summary=f"Undo: cancel task {result.task_id}",
                )

            self.compensations.append((record.step_id, undo))
        return result.task_id

    async def approval_gate(
        self,
        step_id: str,
        reason: str,
        *,
        roles: list[str] | None = None,
        timeout: timedelta | None = None,
        on_timeout: str | None = None,
    ) -> bool:
        """Wait for a person to approve or reject; an early decision is used at once.

        `roles`, `timeout` and `on_timeout` narrow the template's defaults for one gate
        (a data-defined approval step); a decision from another role waits for a later gate.
        """
        escalation = self.params.escalation
        allowed = roles or self.params.approver_roles
        timeout = timeout or escalation.timeout
        on_timeout = on_timeout or escalation.on_timeout
        now = workflow.now()
        self.pending_approval = PendingApproval(
            step_id=step_id,
            reason=reason,
            roles=allowed,
            since=now,
            decide_by=now + timeout,
        )
        self._set_state(State.AWAITING_APPROVAL)
        decided = await self._wait(
            lambda: any(d.role in allowed for _, d in self.decisions),
            timeout,
            f"Wait up to {describe(timeout)} for approval",
        )
        self.pending_approval = None
        if not decided:
            if on_timeout == "cancel":
                raise SequenceCancelled("approval timed out")
            return on_timeout == "proceed"
        index = next(i for i, (_, d) in enumerate(self.decisions) if d.role in allowed)
        verdict, _ = self.decisions.pop(index)
        return verdict == "approve"

    async def _escalate(self, record: StepRecord) -> str:
        """Hand a failed step to a person; see `workflows.escalation`."""
        return await escalate(self, record)


def _capped_until(err: ActivityError) -> datetime | None:
    """The next slot of a send its frequency cap refused, or None for any other failure."""
    cause = err.cause
    if not isinstance(cause, ApplicationError) or cause.type != FREQUENCY_CAPPED:
        return None
    details = cause.details[0] if cause.details else {}
    return datetime.fromisoformat(details["next_slot"])


def _attempts(err: ActivityError, max_attempts: int) -> int:
    """How often the activity was tried before it gave up."""
    cause = err.cause
    if isinstance(cause, ApplicationError) and cause.details:
        detail = cause.details[0]
        if isinstance(detail, dict) and isinstance(detail.get("attempts"), int):
            return int(detail["attempts"])
    if err.retry_state == RetryState.MAXIMUM_ATTEMPTS_REACHED:
        return max_attempts
    return 1


def _describe_error(err: ActivityError) -> str:
    cause = err.cause
    if isinstance(cause, ApplicationError):
        return f"{cause.type}: {cause.message}"
    return str(cause or err)
