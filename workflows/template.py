"""`TemplateIntervention`: a data-defined sequence, interpreted on the shared building blocks.

The template's `steps` (see `contracts.steps`) are run in order, jumping by step id; every
step uses the same block a code-defined sequence would (`send`, `wait_for_response`, `check`,
`open_task`, `approval_gate`), so signals, query, states, search attributes, compensation
and history summaries are the same. The steps travel in the workflow input, so a running
sequence is pinned to the version it started with.

Rules a template author can rely on:
- A step goes on to `next`, else to the step after it; past the last step the sequence ends.
- `end` finishes with its `outcome`; otherwise the outcome describes the last acting step.
- An `approval` step that is rejected ends the sequence ("not approved at <step>").
- `stop_when: [response_received]` (or an event name) ends the sequence before the next step.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.webhook import WebhookActivities
    from contracts import (
        END,
        RESPONSE_RECEIVED,
        Channel,
        InterventionResult,
        MessageTemplate,
        Step,
        StepRecord,
        StepStatus,
        TaskKind,
        TemplateStart,
        Undo,
        channels,
    )
    from contracts.webhooks import WebhookRequest
    from workflows.intervention import SHORT_ACTIVITY, Intervention, describe

from workflows.changes import LEVEL

# Kept small: the log is for people; the decisions a gate still needs travel whole.
DECISION_LOG_KEPT = 50
# Step records of earlier runs kept for the status; a record an undo needs is always kept.
EARLIER_STEPS_KEPT = 200


@workflow.defn
class TemplateIntervention(Intervention):
    """Runs the step list of a data-defined template."""

    @workflow.init
    def __init__(self, start: TemplateStart) -> None:
        super().__init__(start)
        self.plan: list[Step] = list(start.params.steps or [])
        self.by_id = {step.id: step for step in self.plan}
        if start.carried is not None:
            # The next run of a looping template: the state the run before it ended with.
            self.progress = start.carried

    @workflow.run
    async def run(self, start: TemplateStart) -> InterventionResult:
        return await self.carry_out(self.story)

    async def story(self) -> str:
        progress = self.progress
        position = 0 if progress.resume_at is None else self._position(progress.resume_at)
        while position < len(self.plan):
            step = self.plan[position]
            stopped = self.stop_event()
            if stopped == RESPONSE_RECEIVED:
                return "stopped: response received"
            if stopped is not None:
                return f"stopped: event '{stopped}'"
            if step.type == "end":
                return step.outcome or progress.last_outcome
            if step.id in progress.ran or workflow.info().is_continue_as_new_suggested():
                # Looped back (or the history grew long): the next pass is a new run.
                await self.continue_from(step.id)
            progress.ran.append(step.id)
            with self._overrides(step):
                target = await self._run(step)
            if target == END:
                return progress.last_outcome
            position = self._position(target) if target is not None else position + 1
        return progress.last_outcome

    async def continue_from(self, next_step: str) -> None:
        """End this run and go on at `next_step` in a new one, carrying the state.

        Each pass through a loop is a new run, so one run's history holds one pass however
        long the sequence lives, and a step that runs again is a new side effect with a new
        idempotency key (the key carries the run id): the second reminder is sent, not taken
        for a retry of the first."""
        # The rows still carried are written in this run; a signal or update being handled
        # right now must land in this run's state first.
        await self.write_carried_audits()
        await workflow.wait_condition(workflow.all_handlers_finished)
        carried = self.progress.next_run(
            next_step, steps_kept=EARLIER_STEPS_KEPT, decisions_kept=DECISION_LOG_KEPT
        )
        # The next run is a new history: it starts with every change this code knows.
        start = self.start.model_copy(update={"carried": carried, "family": None, "changes": LEVEL})
        workflow.continue_as_new(start, search_attributes=workflow.info().typed_search_attributes)

    # ----------------------------------------------------------------- one step

    async def _run(self, step: Step) -> str | None:
        """Carry out one step; return the id to jump to, or None for the usual next step."""
        if step.sends_message:
            return await self._send(step)
        if step.type in ("call", "task"):
            kind = TaskKind.CALL if step.type == "call" else TaskKind.TASK
            task = await self.open_task(
                kind,
                reason=step.reason or step.description or step.label,
                step=step.id,
                delay=step.delay,
                at=step.at,
                approval=step.requires_approval,
                compensate=step.compensate,
            )
            self.progress.last_outcome = f"{kind.value} {'scheduled' if task else 'not approved'}"
            return step.next
        if step.type == "wait":
            await self._wait_step(step)
            return step.next
        if step.type == "condition":
            assert step.if_ is not None
            summary = step.name or f"Check {step.if_.field or 'condition'}"
            value = await self.check(step.if_, step=step.id, summary=summary)
            return step.then if value else step.else_
        if step.type == "approval":
            return await self._approval(step)
        if step.type == "webhook":
            return await self._webhook(step)
        raise AssertionError(f"unhandled step type {step.type}")  # validation forbids it

    async def _send(self, step: Step) -> str | None:
        channel = Channel(step.type)
        target = channels.find(step.fallback)
        fallback = None if target is None else target.channel
        delay, at = step.delay, step.at
        # Covered by an earlier fallback: skipped before its gate (nobody approves a no-op).
        if self.covered_by_fallback(channel, step.id, step.template or step.id):
            return step.next
        if step.requires_approval:
            if not await self._gate_before(step, f"Send {channel.value} '{step.label}'"):
                return step.next
            delay, at = timedelta(0), None
        sent = await self.send(
            channel,
            step.template or step.id,
            step=step.id,
            delay=delay,
            at=at,
            fallback=fallback,
        )
        if sent:
            self.progress.last_outcome = self._sent_outcome(step.id, channel)
        elif step.fallback is not None and fallback is None:
            return step.fallback  # a step id: the author's own fallback path
        return step.next

    def _sent_outcome(self, step_id: str, channel: Channel) -> str:
        """`sms sent`, or `sms sent (fallback)` when a fallback carried the message."""
        run = self.progress.run
        for record in reversed(self.progress.steps):
            fell_back = record.step_id.startswith(f"{step_id}_fallback_")
            if fell_back and record.run == run and record.status == StepStatus.DONE:
                entry = channels.find(record.kind)
                verb = "sent" if entry is not None and entry.is_message else "scheduled"
                return f"{record.kind} {verb} (fallback)"
        return f"{channel.value} sent"

    async def _wait_step(self, step: Step) -> None:
        timeout = step.duration or timedelta(0)
        if step.until == RESPONSE_RECEIVED:
            await self.wait_for_response(timeout, step=step.id)
            return
        event = step.until
        summary = step.name or f"Wait {describe(timeout)}"
        if event and not step.name:
            summary = f"Wait up to {describe(timeout)} for '{event}'"
        record = self.step(step.id, "wait", summary)
        record.status = StepStatus.RUNNING
        record.started_at = workflow.now()
        if timeout > timedelta(0):
            self.progress.next_action_at = workflow.now() + timeout
        happened = await self.wait(lambda: self._event_seen(event), timeout, summary)
        self.progress.next_action_at = None
        result = f"'{event}' received" if happened else "time passed"
        self.finish_step(record, StepStatus.DONE, result)

    async def _approval(self, step: Step) -> str | None:
        reason = step.reason or step.label
        record = self.step(step.id, "approval", f"Approval: {reason}")
        await self.wait_until_due(record, step.delay, step.at)
        answer = await self.approval_gate(
            step.id, reason, roles=step.roles, timeout=step.timeout, on_timeout=step.on_timeout
        )
        self.finish_step(record, StepStatus.DONE, answer.value)
        if not answer.passed:
            self.progress.last_outcome = f"not approved at {step.id}"
            return END
        return step.next

    async def _webhook(self, step: Step) -> str | None:
        assert step.url is not None
        summary = f"{step.method} {step.label}"
        if step.requires_approval and not await self._gate_before(step, summary):
            return step.next
        record = self.step(step.id, "webhook", summary)
        if not step.requires_approval:
            await self.wait_until_due(record, step.delay, step.at)
        if step.compensate and self.undo_refused(record):
            return step.next
        request = WebhookRequest(
            ref=self.ref(step.id),
            family_id=self.start.family_id,
            url=step.url,
            method=step.method,
            headers=step.headers,
            body=step.body,
            keep=step.keep,
        )
        await self.write_carried_audits()  # the webhook writes its own row: earlier ones first
        while True:
            self.begin(record)
            try:
                result = await workflow.execute_activity_method(
                    WebhookActivities.call_webhook,
                    request,
                    start_to_close_timeout=SHORT_ACTIVITY,
                    retry_policy=self.retry_policy(),
                    summary=summary,
                )
            except ActivityError as err:
                record.attempts += 1
                record.error = str(err.cause or err)
                if step.fallback is not None:
                    self.finish_step(record, StepStatus.FAILED, f"failed: {record.error}")
                    return step.fallback
                if await self.escalate(record) == "resume":
                    continue
                self.finish_step(record, StepStatus.SKIPPED, f"skipped after: {record.error}")
                return step.next
            break
        record.attempts += 1
        record.error = None
        self.finish_step(record, StepStatus.DONE, f"http {result.status_code}")
        self.progress.last_outcome = f"{step.id} done"
        if step.compensate and step.undo is not None:
            self._register_undo(step, record)
        return step.next

    def _register_undo(self, step: Step, record: StepRecord) -> None:
        """The webhook's undo call, run if the sequence is called off later."""
        undo_call = step.undo
        assert undo_call is not None
        undo_ref = self.ref(f"{step.id}_undo")
        self.progress.undos.append(
            Undo(
                step_id=step.id,
                run=record.run,
                kind="webhook",
                ref=undo_ref,
                request=WebhookRequest(
                    ref=undo_ref,
                    family_id=self.start.family_id,
                    url=undo_call.url,
                    method=undo_call.method,
                    headers=undo_call.headers,
                    body=undo_call.body,
                ),
                summary=f"Undo: {undo_call.method} for {step.label}",
            )
        )

    async def _gate_before(self, step: Step, summary: str) -> bool:
        """Wait until the step is due, then for a person's approval; a no skips the step."""
        record = self.step(step.id, step.type, summary)
        await self.wait_until_due(record, step.delay, step.at)
        answer = await self.approval_gate(step.id, step.reason or summary)
        if answer.passed:
            return True
        self.finish_step(record, StepStatus.SKIPPED, answer.value)
        return False

    # ----------------------------------------------------------------- helpers

    def message(self, template_name: str) -> Any:
        """An inline message is known by its step id; a named one lives in `messages`."""
        step = self.by_id.get(template_name)
        if step is not None and step.message is not None and step.template is None:
            return MessageTemplate(subject=step.subject, body=step.message)
        return super().message(template_name)

    @contextlib.contextmanager
    def _overrides(self, step: Step) -> Iterator[None]:
        """A step's retry or assignee override, seen by the blocks for this step only."""
        if step.retry is None and step.assign_to is None:
            yield
            return
        template = self.params
        update: dict[str, Any] = {}
        if step.retry is not None:
            update["retry"] = step.retry
        if step.assign_to is not None:
            update["escalation"] = template.escalation.model_copy(
                update={"assign_to": step.assign_to}
            )
        self.params = template.model_copy(update=update)
        try:
            yield
        finally:
            self.params = template

    def _event_seen(self, name: str | None) -> bool:
        return name is not None and any(event.name == name for event in self.progress.events)

    def _position(self, step_id: str) -> int:
        return next(i for i, step in enumerate(self.plan) if step.id == step_id)
