"""`Intervention`: the one base class every sequence is told with.

A sequence is a short class that subclasses `Intervention` and tells its story with its
building blocks: `send`, `wait_for_response`, `check`, `open_task`, `approval_gate`,
`escalate`, ending with `carry_out` / `finish`. Everything the story should not have to
repeat lives here once: local-time scheduling, frequency caps, retries and fallbacks,
escalation to a person, compensation, signals, the `status` query, search attributes and
the summaries that make the Web UI's history read like the story.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from datetime import time as clock_time
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities import FamilyActivities
    from activities.best_hour import ResponseHistoryActivities
    from contracts import (
        Channel,
        Condition,
        ConditionRequest,
        SendRequest,
        SendResult,
        State,
        StepRecord,
        StepStatus,
        TaskKind,
        channels,
    )
    from contracts.windows import AnswerHoursRequest, SendWindow
    from workflows import metrics, timing

from workflows import send_errors
from workflows.best_hour import pick_hour
from workflows.changes import ASK_WHEN_UNCERTAIN, LOCAL_STORE_STEPS, SEND_QUEUES, SKIP_COVERED_STEP
from workflows.runtime import SHORT_ACTIVITY, SequenceCancelled, describe
from workflows.tasks import TaskBlocks

__all__ = ["SHORT_ACTIVITY", "Intervention", "SequenceCancelled", "describe"]

HISTORY_TIMEOUT = timedelta(seconds=10)


class Intervention(TaskBlocks):
    """Base class of every sequence: the shared building blocks a story is told with."""

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

        On a permanent failure or exhausted retries, fall back (to `fallback`, then along
        the template's `fallbacks` and the registry's, e.g. SMS → call task) or escalate to
        a person. Returns True when a message went out on some channel.
        """
        self.check_cancelled()
        step_id = step or f"{channel.value}_{template_name}"
        if self.covered_by_fallback(channel, step_id, template_name):
            return True
        return await self.deliver(channel, template_name, step_id, delay, at, fallback)

    async def deliver(
        self,
        channel: Channel,
        template_name: str,
        step_id: str,
        delay: timedelta = timedelta(0),
        at: clock_time | None = None,
        fallback: Channel | None = None,
    ) -> bool:
        """Send one step, a planned one or a fallback, on `channel` at its time."""
        entry = channels.spec(channel)
        record = self.step(step_id, channel.value, f"Send {channel.value} '{template_name}'")
        record.channel = channel
        note, window = None, None
        if at is None and self.params.best_hour and entry.is_message:
            window, note = await self.best_hour(channel)
        await self.wait_until_due(record, delay, at, channel, note, window)
        if not entry.is_message:
            return await self.fallback_to_call(record, template_name)
        return await self.send_now(record, template_name, fallback)

    async def send_now(
        self, record: StepRecord, template_name: str, fallback: Channel | None
    ) -> bool:
        """Send a due step; a capped send waits for its cap's next slot and tries again.

        The send activity checks the cap itself, so the common, uncapped case runs nothing
        before it; a refused send names the next slot."""
        channel = record.channel
        family = self.progress.family
        assert channel is not None and family is not None
        # Each channel is sent by its own activity only (the registry names it).
        activity = channels.spec(channel).activity
        assert activity is not None
        while True:
            unusable = send_errors.unusable(family, channel)
            if unusable is not None:
                record.error = f"family has no usable {channel.value} channel: {unusable}"
                return await self.after_failure(
                    record, template_name, fallback, record.error, because=unusable
                )
            self.begin(record)
            queued = self.changed(SEND_QUEUES)
            try:
                result = await workflow.execute_activity(
                    activity,
                    self.send_request(record, template_name, queued),
                    result_type=SendResult,
                    start_to_close_timeout=self.params.retry.attempt_timeout,
                    retry_policy=self.retry_policy(),
                    summary=f"Send {channel.value} '{template_name}'",
                    **(self.send_queue(channel) if queued else {}),
                )
            except ActivityError as err:
                outcome = await self.after_send_error(record, template_name, fallback, err)
                if outcome is None:
                    continue  # the cap's next slot, or a person said: send it again
                return outcome
            return self.sent(record, result, template_name, fallback)

    def sent(
        self, record: StepRecord, result: SendResult, template_name: str, fallback: Channel | None
    ) -> bool:
        """A send went out: the step is done, and a later bounce of it has its fallback."""
        record.attempts += result.attempts
        record.error = None
        self.finish_step(record, StepStatus.DONE, f"sent via {result.provider}")
        if fallback is not None:
            self.progress.bounce_fallbacks[record.step_id] = (fallback, template_name)
        return True

    def send_queue(self, channel: Channel) -> dict[str, Any]:
        """Where a send goes: its channel's task queue, whose workers ask Temporal for the
        provider's rate (for every worker together, retries included), with a
        schedule-to-close timeout that allows for the wait there (`channels.send_timeout`).
        A queue of its own also keeps the send from being handed out eagerly, past the rate."""
        return {
            "task_queue": channels.spec(channel).send_queue(workflow.info().task_queue),
            "schedule_to_close_timeout": channels.send_timeout(self.params.retry),
        }

    def send_request(self, record: StepRecord, template_name: str, queued: bool) -> SendRequest:
        """The send activity's input for this attempt (a resumed step has a new round); a
        `queued` one carries when its allowed hours end."""
        assert record.channel is not None
        family = self.progress.family
        send_by = None
        if queued and not self.params.urgent and family is not None:
            window = channels.send_window(record.channel, self.params.send_windows)
            send_by = timing.allowed_until(
                workflow.now(), family.timezone, self.params.quiet_hours, window=window
            )
        return SendRequest(
            ref=self.ref(record.step_id).model_copy(
                update={"round": self.progress.escalations.get(record.step_id, 0)}
            ),
            family_id=self.start.family_id,
            channel=record.channel,
            template_name=template_name,
            message=self.message(template_name),
            cap=self.params.caps.get(record.channel),
            audits=self.take_carried_audits(),
            on_uncertain=self.params.on_uncertain,
            send_by=send_by,
        )

    async def after_send_error(
        self, record: StepRecord, template_name: str, fallback: Channel | None, err: ActivityError
    ) -> bool | None:
        """A send that did not go out: None to try it again, else what `send_now` returns."""
        slot = send_errors.capped_until(err)
        if slot is not None:  # not a failure: wait for the cap's next window
            await self.wait_for_slot(record, slot)
            self.check_cancelled()
            return None
        if send_errors.outside_hours(err):  # it waited in its queue past its hours: not sent
            note = f"waited in the {record.channel} queue past its hours"
            await self.wait_until_due(record, timedelta(0), None, record.channel, note)
            return None
        self.note_send_error(record, err)
        if send_errors.uncertain(err) and self.changed(ASK_WHEN_UNCERTAIN):
            # It may have reached the family: a person says, not a fallback.
            if await self.escalate(record) == "resume":
                return None  # a deliberate new attempt, under a new key (the round)
            self.finish_step(record, StepStatus.DONE, "reached the family (a person said)")
            self.audit_step(record, "sent (confirmed by a person)")
            return True
        if fallback is None and await self.escalate(record) == "resume":
            return None
        return await self.after_failure(record, template_name, fallback, record.error)

    def note_send_error(self, record: StepRecord, err: ActivityError) -> None:
        """Record a failed send on its step and in the channel error metric."""
        record.attempts += send_errors.attempts(err, self.params.retry.max_attempts)
        record.error = send_errors.describe_error(err)
        cause = err.cause
        kind = type(cause).__name__
        if isinstance(cause, ApplicationError):
            kind = cause.type or "ApplicationError"
        assert record.channel is not None
        metrics.channel_error(self.params.name, record.channel.value, kind)

    async def after_failure(
        self,
        record: StepRecord,
        template_name: str,
        fallback: Channel | None,
        error: str | None,
        *,
        because: str | None = None,
    ) -> bool:
        """Skip a step that could not go out, or send its fallback, which falls back in turn
        along the template's `fallbacks` and the registry's defaults (SMS → call task).

        `because` is why the family could not be sent to at all (no address, no opt-in,
        opted out): the audit row says it; a provider's own words never go there."""
        why = "" if because is None else f": {because}"
        if fallback is None:
            self.finish_step(record, StepStatus.SKIPPED, f"skipped after: {error}")
            self.audit_step(record, f"skipped{why}")
            return False
        self.finish_step(record, StepStatus.FELL_BACK, f"fell back to {fallback.value}")
        self.audit_step(record, f"fell back to {fallback.value}{why}")
        next_fallback = channels.next_fallback(fallback, self.params.fallbacks)
        step_id = f"{record.step_id}_fallback_{fallback.value}"
        sent = await self.deliver(fallback, template_name, step_id, fallback=next_fallback)
        covering = self.find_step(step_id)
        went_out = covering is not None and covering.status == StepStatus.DONE
        if went_out and channels.spec(fallback).is_message:
            self.progress.covered[fallback] = step_id
        return sent

    def covered_by_fallback(self, channel: Channel, step_id: str, template_name: str) -> bool:
        """Whether a fallback that went out on `channel` stands for this planned step.

        The story meant one message on that channel, not two: the next planned step on it
        is skipped, at once, and audited as covered by the fallback."""
        covering = self.progress.covered.pop(channel, None)
        # Sequences that started before this rule send the step as they always did.
        if covering is None or not self.changed(SKIP_COVERED_STEP):
            return False
        record = self.step(step_id, channel.value, f"Send {channel.value} '{template_name}'")
        record.channel = channel
        self.finish_step(record, StepStatus.SKIPPED, f"covered by the fallback {covering}")
        self.audit_step(record, f"skipped: covered by the fallback {covering}")
        return True

    async def fall_back_after_bounce(self) -> None:
        """A sent step bounced: it falls back as a failed send does, once, then the story's
        wait resumes where it was (its step, state and next action time)."""
        progress = self.progress
        step_id = next(s for s in progress.bounces if s in progress.bounce_fallbacks)
        bounce = progress.bounces[step_id]
        fallback, template_name = progress.bounce_fallbacks.pop(step_id)
        record = self.find_step(step_id)
        assert record is not None
        record.error = f"HardBounce: {bounce.reason or f'the {bounce.channel.value} bounced'}"
        metrics.channel_error(self.params.name, bounce.channel.value, "HardBounce")
        resume = (progress.current_step, progress.state, progress.next_action_at)
        progress.handling_bounce = True
        try:
            await self.after_failure(record, template_name, fallback, record.error)
        finally:
            progress.handling_bounce = False
        progress.current_step, state, progress.next_action_at = resume
        self.set_state(state)

    async def fallback_to_call(self, record: StepRecord, template_name: str) -> bool:
        """The last fallback: a coordinator calls the family."""
        task_id = await self.run_task(
            record,
            TaskKind.CALL,
            f"Messages could not be delivered ('{template_name}'): please call",
            compensate=False,
        )
        return task_id is not None

    async def wait_for_response(self, timeout: timedelta, *, step: str = "wait_reply") -> bool:
        """Wait up to `timeout` for the family to answer; a `record_response` wakes it."""
        self.check_cancelled()
        summary = f"Wait up to {describe(timeout)} for a reply"
        record = self.step(step, "wait", summary)
        record.status = StepStatus.RUNNING
        record.started_at = workflow.now()
        if not self.responded:
            self.progress.next_action_at = workflow.now() + timeout
            self.set_state(State.SCHEDULED)
        answered = await self.wait(lambda: self.responded, timeout, summary)
        self.progress.next_action_at = None
        outcome = "reply received" if answered else "no reply"
        self.finish_step(record, StepStatus.DONE, outcome)
        self.audit_step(record, outcome)
        return answered

    async def check(self, condition: Condition, *, step: str, summary: str) -> bool:
        """Evaluate a condition against the family's current data, the prediction and replies."""
        self.check_cancelled()
        record = self.step(step, "condition", summary)
        self.begin(record)
        request = ConditionRequest(
            ref=self.ref(step),
            family_id=self.start.family_id,
            condition=condition,
            facts=self.facts(),
        )
        if self.changed(LOCAL_STORE_STEPS):
            request.audits = self.take_carried_audits()  # written with the check's own row
        else:
            await self.write_carried_audits()  # the check writes its own row: earlier first
        result = await self.store_step(
            FamilyActivities.evaluate_condition, request, summary=summary
        )
        record.attempts += 1
        self.finish_step(record, StepStatus.DONE, f"{result.value}: {result.explanation}")
        return result.value

    def facts(self) -> dict[str, Any]:
        """What a condition may read besides the family's data: replies, events, prediction."""
        prediction = self.start.prediction
        responses = self.progress.responses
        return {
            "response_received": self.responded,
            "responses": [r.channel.value for r in responses],
            # Per channel, e.g. `email_response_received`.
            **{
                f"{c.value}_response_received": any(r.channel == c for r in responses)
                for c in Channel
            },
            "events": {e.name: e.data for e in self.progress.events},
            "probability": prediction.probability if prediction else None,
            "confidence": prediction.confidence if prediction else None,
        }

    async def best_hour(self, channel: Channel) -> tuple[SendWindow | None, str]:
        """Read the family's answer hours and pick the send window for `channel`."""
        history = await workflow.execute_local_activity_method(
            ResponseHistoryActivities.answer_hours,
            AnswerHoursRequest(family_id=self.start.family_id),
            start_to_close_timeout=HISTORY_TIMEOUT,
            summary="Read when the family answered before",
        )
        quiet = None if self.params.urgent else self.params.quiet_hours
        window = channels.send_window(channel, self.params.send_windows)
        return pick_hour(history.hours, window, quiet)

    async def wait_for_slot(self, record: StepRecord, slot: datetime) -> None:
        """Sleep until `slot` (the start of the cap's next window), moved out of quiet hours.

        The cap is checked again by the next send: another sequence may have used the slot."""
        channel = record.channel
        family = self.progress.family
        assert channel is not None and family is not None
        cap = self.params.caps[channel]
        label = channels.spec(channel).label
        now = workflow.now()
        placement = timing.next_allowed_time(
            slot,
            family.timezone,
            self.params.quiet_hours,
            urgent=self.params.urgent,
            window=channels.send_window(channel, self.params.send_windows),
        )
        reason = f"frequency cap: {cap.describe()} by {channel.value}"
        record.due_at = placement.at
        record.due_reason = f"{reason}; {placement.reason}" if placement.reason else reason
        self.progress.next_action_at = placement.at
        self.set_state(State.SCHEDULED)
        await self.wait(
            lambda: False,
            placement.at - now,
            f"Wait for the {label} cap ({cap.describe()}) until "
            f"{placement.local:%a %d %b %H:%M} local",
        )
        self.progress.next_action_at = None
