"""What every sequence runs on: its state, its life from start to end, and bookkeeping.

`InterventionRuntime` keeps the sequence's state in one `InterventionStatus` (`progress`),
runs its story (`carry_out`), ends it (`finish`), undoes what it did when it is called off
(`compensate`), keeps the `InterventionState` search attribute current, and writes the
audit rows of steps whose activities write none. On it stand, in this order, the waits
(`workflows.waiting`), the human inputs (`workflows.inputs`), the blocks people take part in
(`workflows.tasks`) and the one base class of every sequence (`workflows.intervention`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities import FamilyActivities, TaskActivities
    from activities.audit import AuditActivities
    from activities.webhook import WebhookActivities
    from contracts import (
        RESPONSE_RECEIVED,
        CancelTaskRequest,
        FamilyContextRequest,
        InterventionResult,
        InterventionStart,
        InterventionStatus,
        SequenceParams,
        State,
        StepOutcome,
        StepRecord,
        StepRef,
        StepStatus,
        StepTiming,
        Undo,
    )
    from contracts.bounds import UNDOS_MAX
    from workflows import metrics
    from workflows.details import current_details

from workflows.audit import error_type
from workflows.changes import LOCAL_STORE_STEPS, UNDO_CAP, changed, check_level
from workflows.search_attributes import STATE

# Error types the channel activities raise for failures that retrying cannot fix.
PERMANENT_ERRORS = ["InvalidRecipient", "HardBounce", "OptedOut", "ProviderRejected"]

SHORT_ACTIVITY = timedelta(seconds=30)
AUDIT_TIMEOUT = timedelta(seconds=10)
UNDO_RETRY = RetryPolicy(maximum_attempts=10)

Request = TypeVar("Request")
Result = TypeVar("Result")


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


class InterventionRuntime:
    """State and lifecycle shared by every sequence; subclass `Intervention`, not this."""

    @workflow.init
    def __init__(self, start: InterventionStart) -> None:
        self.start = start
        self.params: SequenceParams = start.params
        info = workflow.info()
        self.progress = InterventionStatus(
            workflow_id=info.workflow_id,
            family_id=start.family_id,
            template=start.params.name,
            template_version=start.params.version,
            state=State.SCHEDULED,
            rollout=start.rollout,
        )

    def changed(self, change: str) -> bool:
        """Whether this run takes the workflow change `change` (`workflows.changes`)."""
        return changed(self.start.changes, change)

    # ----------------------------------------------------------------- running a story

    @property
    def responded(self) -> bool:
        """Whether the family has answered (on any channel)."""
        return bool(self.progress.responses)

    def stop_event(self) -> str | None:
        """The first of the template's `stop_when` events that has arrived, if any: the
        family's reply counts as `response_received`, other names as outside events."""
        for name in self.params.stop_when:
            if name == RESPONSE_RECEIVED and self.responded:
                return name
            if any(event.name == name for event in self.progress.events):
                return name
        return None

    async def carry_out(self, story: Callable[[], Awaitable[str]]) -> InterventionResult:
        """Run the sequence's story; on cancel or failure, undo what it did, newest first."""
        check_level(self.start.changes)  # before anything: nothing is done, the task fails
        # The starters set InterventionState when they start a run (`running`, or
        # `scheduled` for an older caller); upserting the same value again would only cost
        # a history event and a visibility write.
        started_as = workflow.info().typed_search_attributes.get(STATE)
        if started_as in (State.SCHEDULED.value, State.RUNNING.value):
            self.progress.published_state = State(started_as)
        self.publish_state()
        metrics.sequence_started(self.params.name, self.params.version)
        try:
            await self.load_family()
            self.progress.outcome = await story()
            await self.write_carried_audits()
        except SequenceCancelled as cancelled:
            await self.compensate()
            return self.finish(State.CANCELLED, f"cancelled: {cancelled.reason}")
        except asyncio.CancelledError:
            # Cancelled from Temporal itself (UI, CLI): undo, then let the cancel stand.
            await self.compensate()
            self.finish(State.CANCELLED, "cancelled through Temporal")
            raise
        except Exception as err:
            # The quarantine and the status name the step that broke, not only the outcome.
            failing = self.find_step(self.progress.current_step or "")
            if failing is not None and failing.status == StepStatus.RUNNING:
                failing.status, failing.error = StepStatus.FAILED, str(err)
            await self.compensate()
            self.finish(State.FAILED, f"failed: {err}")
            raise ApplicationError(f"sequence failed: {err}", type="SequenceFailed") from err
        return self.finish(State.COMPLETED, self.progress.outcome)

    async def load_family(self) -> None:
        """The family's time zone and channels: from the start input when the starter read
        them just before, else through a local activity (a short store read that saves a
        server round trip and several history events over a regular activity)."""
        if self.start.family is not None:
            self.progress.family = self.start.family
            return
        self.progress.family = await workflow.execute_local_activity_method(
            FamilyActivities.load_family_context,
            FamilyContextRequest(family_id=self.start.family_id),
            start_to_close_timeout=SHORT_ACTIVITY,
            summary="Load the family's time zone and channels",
        )

    def finish(self, state: State, outcome: str) -> InterventionResult:
        """End the sequence in `state` with `outcome`; the run's result."""
        progress = self.progress
        progress.outcome = outcome
        progress.current_step = None
        progress.next_action_at = None
        progress.pending_approval = None
        self.set_state(state)
        metrics.sequence_completed(self.params.name, state.value)
        return InterventionResult(state=state, outcome=outcome, steps=list(progress.steps))

    async def compensate(self) -> None:
        """Undo what the sequence did, newest first (each undo an idempotent activity)."""
        await self.write_carried_audits()
        undos = self.progress.undos
        if not undos:
            return
        self.set_state(State.COMPENSATING)
        for undo in reversed(undos):
            # Each undo has its own retries; one failing undo must not stop the others.
            record = self.find_step(undo.step_id, undo.run)
            try:
                await self.run_undo(undo)
                if record is not None:
                    record.status = StepStatus.COMPENSATED
            except Exception as err:
                if record is not None:
                    record.error = f"compensation failed: {err}"
        undos.clear()

    def undo_refused(self, record: StepRecord) -> bool:
        """Whether the step of `record`, which would register a compensation, is not taken:
        the sequence keeps `UNDOS_MAX` of them and lets none go, since each must run if the
        sequence is called off. A refused step is skipped, and says why."""
        if len(self.progress.undos) < UNDOS_MAX or not self.changed(UNDO_CAP):
            return False
        reason = (
            f"not taken: the sequence already keeps {UNDOS_MAX} compensations, the most it "
            "keeps, and this step would need one more"
        )
        self.finish_step(record, StepStatus.SKIPPED, reason)
        self.audit_step(record, reason)
        return True

    async def run_undo(self, undo: Undo) -> None:
        """Carry out one registered compensation."""
        if undo.kind == "cancel_task":
            assert undo.task_id is not None
            await self.store_step(
                TaskActivities.cancel_task,
                CancelTaskRequest(ref=undo.ref, task_id=undo.task_id, reason="sequence called off"),
                retry_policy=UNDO_RETRY,
                summary=undo.summary or f"Undo: cancel task {undo.task_id}",
            )
            return
        assert undo.request is not None
        await workflow.execute_activity_method(
            WebhookActivities.call_webhook,
            undo.request,
            start_to_close_timeout=SHORT_ACTIVITY,
            retry_policy=UNDO_RETRY,
            summary=undo.summary,
        )

    async def store_step(
        self,
        activity: Callable[[Any, Request], Awaitable[Result]],
        request: Request,
        *,
        summary: str,
        retry_policy: RetryPolicy | None = None,
    ) -> Result:
        """Run a step that only touches the store (no provider, no other system).

        As a local activity it runs inside the workflow task that asked for it, and its
        result is one marker in the history instead of an activity's three events and a
        workflow task's three; the summary names it in the Web UI as before. Runs started
        before the patch keep their regular activities."""
        if self.changed(LOCAL_STORE_STEPS):
            return await workflow.execute_local_activity_method(
                activity,
                request,
                start_to_close_timeout=SHORT_ACTIVITY,
                retry_policy=retry_policy,
                summary=summary,
            )
        return await workflow.execute_activity_method(
            activity,
            request,
            start_to_close_timeout=SHORT_ACTIVITY,
            retry_policy=retry_policy,
            summary=summary,
        )

    # ----------------------------------------------------------------- state bookkeeping

    def set_state(self, state: State) -> None:
        """The sequence's state, in the status, the Web UI's current details and (when it
        changes) the search attribute."""
        self.progress.state = state
        self.publish_state()
        # Not a command (the SDK answers the Web UI's metadata query with it), so histories
        # recorded before it replay unchanged.
        workflow.set_current_details(current_details(self.progress, workflow.now()))

    def publish_state(self) -> None:
        """Upsert `InterventionState` once per real change, which keeps the history short.

        Between steps the search attribute goes on saying `running` (the `status` query has
        the detail): a flip to `scheduled` and back at every step would cost a visibility
        write each time for nothing a search needs."""
        progress = self.progress
        state = progress.state
        if state == State.SCHEDULED and progress.published_state not in (None, State.SCHEDULED):
            state = State.RUNNING
        if progress.published_state != state:
            workflow.upsert_search_attributes([STATE.value_set(state.value)])
            progress.published_state = state

    def find_step(self, step_id: str, run: int | None = None) -> StepRecord | None:
        """The record of `step_id` in run `run` (this run by default), if there is one."""
        run = self.progress.run if run is None else run
        for record in reversed(self.progress.steps):
            if record.step_id == step_id and record.run == run:
                return record
        return None

    def step(self, step_id: str, kind: str, summary: str) -> StepRecord:
        """The step's record (created on first use); it becomes the current step."""
        record = self.find_step(step_id)
        if record is None:
            record = StepRecord(step_id=step_id, kind=kind, summary=summary, run=self.progress.run)
            self.progress.steps.append(record)
        self.progress.current_step = step_id
        return record

    def begin(self, step: StepRecord) -> None:
        """The step starts acting now."""
        self.set_state(State.RUNNING)
        step.status = StepStatus.RUNNING
        step.started_at = workflow.now()
        if step.due_at is not None:
            metrics.step_latency(self.params.name, step.kind, step.started_at - step.due_at)

    def finish_step(self, step: StepRecord, status: StepStatus, result: str) -> None:
        """The step ended with `status`; `result` says how."""
        step.status = status
        step.result = result
        step.finished_at = workflow.now()

    def ref(self, step_id: str) -> StepRef:
        """Who and what an activity acts for; its idempotency key comes from this."""
        info = workflow.info()
        prediction = self.start.prediction
        record = self.find_step(step_id)
        timing = None
        if record is not None:
            timing = StepTiming(
                due_at=record.due_at, started_at=record.started_at, due_reason=record.due_reason
            )
        return StepRef(
            workflow_id=info.workflow_id,
            run_id=info.run_id,
            step_id=step_id,
            template=self.params.name,
            template_version=self.params.version,
            prediction_id=prediction.prediction_id if prediction else None,
            timing=timing,
        )

    def retry_policy(self) -> RetryPolicy:
        """The template's retry strategy, with the failures retrying cannot fix."""
        retry = self.params.retry
        return RetryPolicy(
            initial_interval=retry.initial_interval,
            backoff_coefficient=retry.backoff,
            maximum_interval=retry.max_interval,
            maximum_attempts=retry.max_attempts,
            non_retryable_error_types=PERMANENT_ERRORS,
        )

    def message(self, template_name: str) -> Any:
        """The template's message `template_name`; a non-retryable error when it has none."""
        try:
            return self.params.messages[template_name]
        except KeyError:
            raise ApplicationError(
                f"template {self.params.name!r} has no message {template_name!r}",
                type="TemplateError",
                non_retryable=True,
            ) from None

    # ----------------------------------------------------------------- audit rows

    def audit_step(self, record: StepRecord, outcome: str) -> None:
        """The audit row of a step that ended without writing one itself (a wait, a skip, a
        fallback). The next activity writes it first (`take_carried_audits`), so the trail
        keeps its order and a reply turns into the next send without a store write between."""
        self.progress.carried_audits.append(
            StepOutcome(
                ref=self.ref(record.step_id),
                family_id=self.start.family_id,
                kind=record.kind,
                outcome=outcome,
                attempts=max(record.attempts, 1),
                channel=record.channel,
                error_type=error_type(record.error) if record.status != "done" else None,
            )
        )

    def take_carried_audits(self) -> list[StepOutcome]:
        """The rows the next activity is to write first; it carries them from here on."""
        rows, self.progress.carried_audits = self.progress.carried_audits, []
        return rows

    async def write_carried_audits(self) -> None:
        """Write the carried rows through one local activity, before an activity that
        carries none writes its own row, and before the run ends or continues as new."""
        rows = self.take_carried_audits()
        if rows:
            await workflow.execute_local_activity_method(
                AuditActivities.record_steps,
                rows,
                start_to_close_timeout=AUDIT_TIMEOUT,
                summary="Audit: " + ", ".join(f"{r.ref.step_id} {r.outcome}" for r in rows),
            )
