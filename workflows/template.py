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
        StepStatus,
        TaskKind,
    )
    from contracts.carry import CarriedUndo, TemplateStart
    from contracts.webhooks import WebhookRequest
    from workflows.blocks import SHORT_ACTIVITY, Intervention, describe

from workflows import versions
from workflows.audit import write_carried
from workflows.template_carry import LOOP_PATCH, continue_from, restore, undo_action


@workflow.defn
class TemplateIntervention(Intervention):
    """Runs the step list of a data-defined template."""

    @workflow.init
    def __init__(self, start: TemplateStart) -> None:
        super().__init__(start)
        self.plan: list[Step] = list(start.params.steps or [])
        self.by_id = {step.id: step for step in self.plan}
        self.last_outcome = "completed"
        # Continue-as-new (see workflows/template_carry.py): the steps run in this run, the
        # runs before it, where this one starts, and every registered undo as data.
        self.ran: set[str] = set()
        self.passes = 0
        self.resume_at: str | None = None
        self.undo_data: dict[str, CarriedUndo] = {}
        self.carried_keys: set[str] = set()
        if start.carried is not None:
            restore(self, start.carried)

    @workflow.run
    async def run(self, start: TemplateStart) -> InterventionResult:
        return await self.carry_out(self.story)

    async def story(self) -> str:
        position = 0 if self.resume_at is None else self._position(self.resume_at)
        while position < len(self.plan):
            step = self.plan[position]
            stopped = self._stop_reason()
            if stopped is not None:
                return stopped
            if step.type == "end":
                return step.outcome or self.last_outcome
            if (
                step.id in self.ran or workflow.info().is_continue_as_new_suggested()
            ) and versions.patched(self, LOOP_PATCH):
                # Looped back (or the history grew long): the next pass is a new run.
                await continue_from(self, step.id)
            self.ran.add(step.id)
            with self._overrides(step):
                target = await self._run(step)
            if target == END:
                return self.last_outcome
            position = self._position(target) if target is not None else position + 1
        return self.last_outcome

    # ----------------------------------------------------------------- one step

    async def _run(self, step: Step) -> str | None:
        """Carry out one step; return the id to jump to, or None for the usual next step."""
        if step.type in ("email", "sms"):
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
            if step.compensate and task is not None:
                self.undo_data[step.id] = CarriedUndo(
                    kind="cancel_task",
                    ref=self._ref(step.id),
                    task_id=task,
                    summary=f"Undo: cancel task {task}",
                )
            self.last_outcome = f"{kind.value} {'scheduled' if task else 'not approved'}"
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
        fallback = step.fallback if step.fallback in Channel._value2member_map_ else None
        delay, at = step.delay, step.at
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
            fallback=Channel(fallback) if fallback else None,
        )
        if sent:
            self.last_outcome = f"{channel.value} sent"
        elif step.fallback is not None and fallback is None:
            return step.fallback  # a step id: the author's own fallback path
        return step.next

    async def _wait_step(self, step: Step) -> None:
        timeout = step.duration or timedelta(0)
        if step.until == RESPONSE_RECEIVED:
            await self.wait_for_response(timeout, step=step.id)
            return
        event = step.until
        summary = step.name or f"Wait {describe(timeout)}"
        if event and not step.name:
            summary = f"Wait up to {describe(timeout)} for '{event}'"
        record = self._step(step.id, "wait", summary)
        record.status = StepStatus.RUNNING
        record.started_at = workflow.now()
        if timeout > timedelta(0):
            self.next_action_at = workflow.now() + timeout
        happened = await self._wait(lambda: self._event_seen(event), timeout, summary)
        self.next_action_at = None
        result = f"'{event}' received" if happened else "time passed"
        self._finish_step(record, StepStatus.DONE, result)

    async def _approval(self, step: Step) -> str | None:
        reason = step.reason or step.label
        record = self._step(step.id, "approval", f"Approval: {reason}")
        await self._wait_until_due(record, step.delay, step.at)
        approved = await self.approval_gate(
            step.id, reason, roles=step.roles, timeout=step.timeout, on_timeout=step.on_timeout
        )
        self._finish_step(record, StepStatus.DONE, "approved" if approved else "not approved")
        if not approved:
            self.last_outcome = f"not approved at {step.id}"
            return END
        return step.next

    async def _webhook(self, step: Step) -> str | None:
        assert step.url is not None
        summary = f"{step.method} {step.label}"
        if step.requires_approval and not await self._gate_before(step, summary):
            return step.next
        record = self._step(step.id, "webhook", summary)
        if not step.requires_approval:
            await self._wait_until_due(record, step.delay, step.at)
        request = WebhookRequest(
            ref=self._ref(step.id),
            family_id=self.start.family_id,
            url=step.url,
            method=step.method,
            headers=step.headers,
            body=step.body,
        )
        await write_carried(self)  # the webhook writes its own row: the earlier ones first
        while True:
            self._begin(record)
            try:
                result = await workflow.execute_activity_method(
                    WebhookActivities.call_webhook,
                    request,
                    start_to_close_timeout=SHORT_ACTIVITY,
                    retry_policy=self._retry_policy(),
                    summary=summary,
                )
            except ActivityError as err:
                record.attempts += 1
                record.error = str(err.cause or err)
                if step.fallback is not None:
                    self._finish_step(record, StepStatus.FAILED, f"failed: {record.error}")
                    return step.fallback
                if await self._escalate(record) == "resume":
                    continue
                self._finish_step(record, StepStatus.SKIPPED, f"skipped after: {record.error}")
                return step.next
            break
        record.attempts += 1
        record.error = None
        self._finish_step(record, StepStatus.DONE, f"http {result.status_code}")
        self.last_outcome = f"{step.id} done"
        if step.compensate and step.undo is not None:
            undo_call = step.undo
            undo_ref = self._ref(f"{step.id}_undo")
            undo = CarriedUndo(
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
            self.undo_data[step.id] = undo.model_copy(update={"key": step.id})
            self.compensations.append((step.id, undo_action(undo)))
        return step.next

    async def _gate_before(self, step: Step, summary: str) -> bool:
        """Wait until the step is due, then for a person's approval; a no skips the step."""
        record = self._step(step.id, step.type, summary)
        await self._wait_until_due(record, step.delay, step.at)
        if await self.approval_gate(step.id, step.reason or summary):
            return True
        self._finish_step(record, StepStatus.SKIPPED, "not approved")
        return False

    # ----------------------------------------------------------------- helpers

    def _message(self, template_name: str) -> Any:
        # An inline message is known by its step id; a named one lives in `messages`.
        step = self.by_id.get(template_name)
        if step is not None and step.message is not None and step.template is None:
            return MessageTemplate(subject=step.subject, body=step.message)
        return super()._message(template_name)

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
        return name is not None and any(event.name == name for event in self.events)

    def _stop_reason(self) -> str | None:
        for condition in self.params.stop_when:
            if condition == RESPONSE_RECEIVED and self.responded:
                return "stopped: response received"
            if self._event_seen(condition):
                return f"stopped: event '{condition}'"
        return None

    def _position(self, step_id: str) -> int:
        return next(i for i, step in enumerate(self.plan) if step.id == step_id)
