"""The building blocks every intervention sequence is made of.

A sequence is a short class that subclasses `Intervention` and tells its story with these
blocks: `send`, `wait_for_response`, `check`, `open_task`, `approval_gate`. Everything the
story should not have to repeat lives here once: local-time scheduling, retries and
fallbacks, escalation to a person, compensation, signals, the `status` query, search
attributes and the summaries that make the Web UI's history read like the story.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from datetime import time as clock_time
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeKey
from temporalio.exceptions import ActivityError, ApplicationError, RetryState

with workflow.unsafe.imports_passed_through():
    from activities import ChannelActivities, FamilyActivities, TaskActivities
    from contracts import (
        CancelRequest,
        CancelTaskRequest,
        Channel,
        CloseTaskRequest,
        Condition,
        ConditionRequest,
        DecideRequest,
        Decision,
        DecisionReceipt,
        EscalationAnswer,
        Event,
        FamilyContext,
        FamilyContextRequest,
        InterventionResult,
        InterventionStart,
        InterventionStatus,
        PendingApproval,
        ReceivedResponse,
        Response,
        SendRequest,
        SequenceParams,
        State,
        StepRecord,
        StepRef,
        StepStatus,
        TaskKind,
        TaskRequest,
    )
    from contracts.windows import SendWindow
    from workflows import metrics, timing

from workflows.audit import audit_step, settle_audits
from workflows.best_hour import best_hour
from workflows.pacing import wait_for_frequency_cap

STATE = SearchAttributeKey.for_keyword("InterventionState")
FAMILY_ID = SearchAttributeKey.for_keyword("FamilyId")
TEMPLATE_NAME = SearchAttributeKey.for_keyword("TemplateName")
TEMPLATE_VERSION = SearchAttributeKey.for_int("TemplateVersion")
RISK_SCORE = SearchAttributeKey.for_float("RiskScore")

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


class Intervention:
    """Base class of every sequence: state, signals, query and the shared building blocks."""

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

    # ----------------------------------------------------------------- signals and query

    @workflow.signal
    def record_response(self, response: Response) -> None:
        """The family answered; a wait for a reply wakes up at once."""
        self.responses.append(
            ReceivedResponse(channel=response.channel, note=response.note, at=workflow.now())
        )

    @workflow.signal
    def approve(self, decision: Decision) -> None:
        """Approve the next (or the pending) approval gate; kept if it arrives early."""
        self._decide("approve", decision)

    @workflow.signal
    def reject(self, decision: Decision) -> None:
        """Reject the next (or the pending) approval gate; the gated step is skipped."""
        self._decide("reject", decision)

    @workflow.update
    def decide(self, request: DecideRequest) -> DecisionReceipt:
        """Approve or reject the pending gate, with an answer for the caller at once.

        The validator refuses before anything is written to history, so a refused decision
        leaves no trace in the workflow and the caller learns why straight away.
        """
        assert self.pending_approval is not None  # the validator guarantees it
        self._decide(request.verdict.value, request.decision)
        return DecisionReceipt(
            verdict=request.verdict,
            step_id=self.pending_approval.step_id,
            approver=request.decision.approver,
        )

    @decide.validator
    def _validate_decide(self, request: DecideRequest) -> None:
        role = request.decision.role
        if role not in self.params.approver_roles:
            allowed = ", ".join(self.params.approver_roles)
            raise ApplicationError(
                f"role: {role!r} may not decide on {self.params.name} (allowed: {allowed})",
                type="DecisionRefused",
            )
        if self.pending_approval is None:
            raise ApplicationError(
                f"state: the sequence is {self.state.value}, not awaiting approval",
                type="DecisionRefused",
            )
        if self.decisions:
            # A decision is already queued for this gate; a second one would be lost.
            raise ApplicationError(
                "state: this approval has already been decided", type="DecisionRefused"
            )

    @workflow.signal
    def record_event(self, event: Event) -> None:
        """Something happened outside (an event trigger); a wait `until` it wakes up."""
        self.events.append(event)

    @workflow.signal
    def cancel(self, request: CancelRequest) -> None:
        """Call the sequence off: compensations run, then it ends `cancelled`."""
        if self.cancel_request is None:
            self.cancel_request = request

    @workflow.signal
    def resume(self, answer: EscalationAnswer) -> None:
        """After an escalation: try the failed step again."""
        self.escalation_answer = ("resume", answer)

    @workflow.signal
    def skip(self, answer: EscalationAnswer) -> None:
        """After an escalation: leave the failed step and go on."""
        self.escalation_answer = ("skip", answer)

    @workflow.query
    def status(self) -> InterventionStatus:
        """State, current step, next action time, every step so far, responses, approvals."""
        info = workflow.info()
        return InterventionStatus(
            workflow_id=info.workflow_id,
            family_id=self.start.family_id,
            template=self.params.name,
            template_version=self.params.version,
            state=self.state,
            current_step=self.current_step,
            next_action_at=self.next_action_at,
            steps=list(self.steps.values()),
            responses=self.responses,
            pending_approval=self.pending_approval,
            outcome=self.outcome,
            decisions=self.decision_log,
            rollout=self.start.rollout,
        )

    def _decide(self, verdict: str, decision: Decision) -> None:
        entry = {"verdict": verdict, **decision.model_dump(), "at": workflow.now().isoformat()}
        if decision.role not in self.params.approver_roles:
            # Refused, not queued: a decision from a role the template does not allow
            # must never open a gate. It stays in the log so the refusal is auditable.
            entry["refused"] = f"role {decision.role!r} may not decide"
            self.decision_log.append(entry)
            workflow.logger.warning("Refused %s from role %s", verdict, decision.role)
            return
        self.decision_log.append(entry)
        self.decisions.append((verdict, decision))

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
        lean_start = workflow.patched("local-family-context")
        if lean_start and workflow.info().typed_search_attributes.get(STATE) == self.state.value:
            self._published_state = self.state
        self._publish_state()
        metrics.sequence_started(self.params.name, self.params.version)
        try:
            request = FamilyContextRequest(family_id=self.start.family_id)
            if lean_start:
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
        # One upsert per real change keeps the history short.
        if self._published_state != self.state:
            workflow.upsert_search_attributes([STATE.value_set(self.state.value)])
            self._published_state = self.state

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
        """Sleep durably up to `timeout`; wake early when `until()` or a cancel arrives."""
        with contextlib.suppress(TimeoutError):
            await workflow.wait_condition(
                lambda: until() or self.cancel_request is not None,
                timeout=timeout if timeout > timedelta(0) else None,
                timeout_summary=summary,
            )
        self._check_cancelled()
        return until()

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
        # Histories from before caps existed must replay without the new slot checks.
        if usable and channel in self.params.caps and workflow.patched("frequency-caps"):
            await wait_for_frequency_cap(self, record, channel)
            self._check_cancelled()
        await settle_audits(self)  # the audit trail stays in order: the wait's row first
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
                    ),
                    start_to_close_timeout=self.params.retry.attempt_timeout,
                    retry_policy=self._retry_policy(),
                    summary=f"Send {channel.value} '{template_name}'",
                )
            except ActivityError as err:
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
        """Hand a failed step to a person: open an escalation task, pause, await an answer."""
        escalation = self.params.escalation
        self.escalation_answer = None
        count = self.escalations[record.step_id] = self.escalations.get(record.step_id, 0) + 1
        # A second escalation of the same step is a new task, not the first one again.
        task_step = f"{record.step_id}_escalation" + (f"_{count}" if count > 1 else "")
        error_type, _, message = (record.error or "").partition(": ")
        # Older histories left the escalation task open whatever the answer.
        closes = workflow.patched("close-escalation-tasks")
        task_id = await self._run_task(
            self._step(task_step, "escalation", "Escalate to a person"),
            TaskKind.ESCALATION,
            f"Step '{record.step_id}' failed: {record.error}",
            compensate=closes,  # a cancel while paused cancels the task too
            details={
                "step": record.step_id,
                "error": record.error,
                "error_type": error_type if message else None,
                "message": message or record.error,
                "attempts": record.attempts,
                "family_id": self.start.family_id,
                "workflow_id": workflow.info().workflow_id,
            },
        )
        self.current_step = record.step_id
        self._set_state(State.PAUSED)
        answered = await self._wait(
            lambda: self.escalation_answer is not None,
            escalation.timeout,
            f"Paused: wait up to {describe(escalation.timeout)} for resume or skip",
        )
        if not answered:
            if escalation.on_timeout == "cancel":
                raise SequenceCancelled(f"no answer to the escalation of '{record.step_id}'")
            if closes:
                await self._close_escalation(task_id, None)
            return "resume" if escalation.on_timeout == "proceed" else "skip"
        assert self.escalation_answer is not None
        if closes:
            await self._close_escalation(task_id, self.escalation_answer)
        return self.escalation_answer[0]

    async def _close_escalation(
        self, task_id: int | None, answer: tuple[str, EscalationAnswer] | None
    ) -> None:
        """Take a settled escalation task out of the inbox: done when answered, else cancelled."""
        # `_escalate` registered the task's undo last; nothing else runs while it is paused.
        step_id, _ = self.compensations.pop()
        assert task_id is not None
        ref = self._ref(step_id)
        if answer is None:
            on_timeout = self.params.escalation.on_timeout
            await workflow.execute_activity_method(
                TaskActivities.cancel_task,
                CancelTaskRequest(ref=ref, task_id=task_id, reason=f"no answer: {on_timeout}"),
                start_to_close_timeout=SHORT_ACTIVITY,
                retry_policy=RetryPolicy(maximum_attempts=10),
                summary=f"Cancel unanswered escalation task {task_id}",
            )
            return
        verdict, given = answer
        await workflow.execute_activity_method(
            TaskActivities.complete_task,
            CloseTaskRequest(
                ref=ref, task_id=task_id, by=given.by, note=f"{verdict}. {given.note}".strip()
            ),
            start_to_close_timeout=SHORT_ACTIVITY,
            retry_policy=RetryPolicy(maximum_attempts=10),
            summary=f"Close escalation task {task_id}: {verdict} by {given.by}",
        )

    def _message(self, template_name: str) -> Any:
        try:
            return self.params.messages[template_name]
        except KeyError:
            raise ApplicationError(
                f"template {self.params.name!r} has no message {template_name!r}",
                type="TemplateError",
                non_retryable=True,
            ) from None


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
